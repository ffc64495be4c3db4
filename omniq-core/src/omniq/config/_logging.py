"""Library logging: levels of the ``omniq`` logger hierarchy, from settings or arguments.

OmniQ logs through ``logging.getLogger("omniq....")`` and, as a library should, adds no
handler but a :class:`logging.NullHandler` on ``omniq`` (so nothing is printed unless the
application configures logging) and never touches the root logger. Task events are a
separate thing (event stores).

The levels the environment asks for (``OMNIQ_LOG_LEVEL``, ``OMNIQ_DISABLE_LOGGING``,
``OMNIQ_COMPONENT_LOG_LEVELS``) are applied once, when OmniQ is imported and only if one of them
is set: so they work in any program, and the program's own logging configuration, made after
its imports, still has the last word.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Mapping

from ..exceptions import ConfigError
from ._env import ENV_PREFIX, LEVEL_NAMES, get_setting, parse_level

ROOT_LOGGER = "omniq"
#: Above CRITICAL: what "DISABLED" sets, so nothing at any level passes.
DISABLED_LEVEL = logging.CRITICAL + 10

logging.getLogger(ROOT_LOGGER).addHandler(logging.NullHandler())

# Loggers given a level by the previous call, reset on the next so calls do not accumulate.
_configured: set[str] = set()
_HANDLER_NAME = "omniq.stderr"


def configure_logging(
    level: str | int | None = None,
    component_levels: Mapping[str, str | int] | None = None,
    disable: bool | None = None,
    *,
    add_handler: bool = False,
) -> None:
    """Set the levels of OmniQ's loggers (a ConfigError for an unknown level).

    Args:
        level: Level of the ``omniq`` logger (``"DEBUG"`` ... ``"CRITICAL"``, ``"DISABLED"``
            or an int); None: the ``LOG_LEVEL`` setting (``OMNIQ_LOG_LEVEL``).
        component_levels: Levels of loggers below it, e.g. ``{"omniq.worker": "DEBUG"}``; a
            name without the ``omniq.`` prefix gets it (``"worker"`` is ``omniq.worker``).
            None: the ``COMPONENT_LOG_LEVELS`` setting.
        disable: True silences every ``omniq`` logger whatever the levels; None: the
            ``DISABLE_LOGGING`` setting.
        add_handler: Also attach one stderr handler to ``omniq`` (once), for command-line
            tools and quick scripts; applications normally configure handlers themselves.
    """
    if disable is None:
        disable = bool(get_setting("DISABLE_LOGGING"))
    root_level = _level("level", get_setting("LOG_LEVEL") if level is None else level)
    if component_levels is None:
        component_levels = get_setting("COMPONENT_LOG_LEVELS")
    components = {
        _logger_name(name): _level(f"component_levels[{name!r}]", value)
        for name, value in component_levels.items()
    }

    for name in _configured:
        logging.getLogger(name).setLevel(logging.NOTSET)
    _configured.clear()

    root = logging.getLogger(ROOT_LOGGER)
    if disable:
        # Child loggers with a level of their own would still log: so none get one.
        root.setLevel(DISABLED_LEVEL)
    else:
        root.setLevel(root_level)
        for name, component_level in components.items():
            logging.getLogger(name).setLevel(component_level)
            _configured.add(name)
    if add_handler and not any(h.get_name() == _HANDLER_NAME for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)


def _logger_name(name: str) -> str:
    name = name.strip()
    if name == ROOT_LOGGER or name.startswith(ROOT_LOGGER + "."):
        return name
    # Anything else is taken as relative to "omniq": never the root logger or a stranger's.
    return f"{ROOT_LOGGER}.{name.lstrip('.')}" if name.strip(".") else ROOT_LOGGER


def _level(field: str, value: str | int) -> int:
    try:
        parsed = parse_level(value)
    except ValueError:
        raise ConfigError("invalid log level", field=field, value=value,
                          expected="one of " + ", ".join(LEVEL_NAMES) + ", or a non-negative int",
                          ) from None
    if isinstance(parsed, int):
        return parsed
    return DISABLED_LEVEL if parsed == "DISABLED" else logging.getLevelName(parsed)


_LOGGING_SETTINGS = ("LOG_LEVEL", "DISABLE_LOGGING", "COMPONENT_LOG_LEVELS")


def check_logging_environment() -> None:
    """A ConfigError naming the variable when a logging variable of the environment is
    invalid (``OMNIQ_LOG_LEVEL=LOUD``); called where a client is built."""
    for name in _LOGGING_SETTINGS:
        get_setting(name)


def _apply_the_environment() -> None:
    given = [name for name in _LOGGING_SETTINGS if os.environ.get(ENV_PREFIX + name, "").strip()]
    if not given:
        return
    # An import does not fail: the first client built raises the error, naming the variable.
    with contextlib.suppress(ConfigError):
        # Without OMNIQ_LOG_LEVEL the ``omniq`` logger keeps inheriting its level (NOTSET).
        configure_logging(level=None if "LOG_LEVEL" in given else logging.NOTSET)


_apply_the_environment()
