"""Checking keyword options against what a constructor takes, before it is called.

A misspelled option (``max_retires``) or a value of the wrong kind (``max_workers: lots``) is
answered with a :class:`~omniq.exceptions.ConfigError` that names the option, the value, what
was expected and the closest valid name, instead of Python's ``unexpected keyword argument`` or
``invalid literal for int()`` from deep inside a constructor.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..exceptions import ConfigError
from ._validate import redact_value

# Annotations simple enough to check a value against; anything else is the callee's business.
_SIMPLE = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``"did you mean 'max_retries'?"`` for the closest of ``choices``, or ``""``."""
    found = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return f"did you mean {found[0]!r}?" if found else ""


def unknown_option(what: str, name: str, value: Any, choices: Iterable[str], *,
                   field: str | None = None, source: str | None = None) -> ConfigError:
    """The error for an option ``what`` does not take, with the closest valid name."""
    choices = sorted(choices)
    return ConfigError(f"unknown option {name!r} for {what}", field=field or name,
                       value=redact_value(str(name), value), source=source,
                       expected="one of " + ", ".join(choices) if choices else "no options",
                       hint=did_you_mean(name, choices) or None)


def check_options(target: Callable[..., Any], options: Mapping[str, Any], *, what: str,
                  field_prefix: str = "", ignore: Iterable[str] = (),
                  also: Iterable[str] = (), source: str | None = None) -> None:
    """Raise a ConfigError for an option ``target`` (a class or function) does not take or a
    value of the wrong kind. ``what`` names the target in messages (``"the sqlite task
    queue"``), ``field_prefix`` is put before an option's name (``"task_queue.config."``),
    ``ignore`` lists parameters that are not the user's to give, ``also`` names the caller
    takes itself (not checked), ``source`` where the options came from."""
    if not options:
        return
    params, hints = _spec(getattr(target, "__func__", target))  # bound method: its function
    if params is None:
        return
    also = set(also)
    for name, value in options.items():
        field = f"{field_prefix}{name}"
        if name in also:
            continue
        if name not in params:
            ignored = set(ignore)
            accepted = {n for n in params if n not in ignored} | also
            raise unknown_option(what, name, value, accepted, field=field, source=source)
        expected = _mismatch(hints.get(name), value)
        if expected is not None:
            raise ConfigError(f"invalid value for option {name!r} of {what}", field=field,
                              value=redact_value(name, value), expected=expected, source=source)


@functools.lru_cache(maxsize=256)
def _spec(target: Callable[..., Any]
          ) -> tuple[dict[str, inspect.Parameter] | None, dict[str, Any]]:
    """The parameters and type hints of ``target``, read once (enqueue checks every call)."""
    return _parameters(target), _hints(target)


def _parameters(target: Callable[..., Any]) -> dict[str, inspect.Parameter] | None:
    try:
        params = dict(inspect.signature(target).parameters)
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None  # takes anything: the callee checks
    return {n: p for n, p in params.items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n != "self"}


def _hints(target: Callable[..., Any]) -> dict[str, Any]:
    # A config struct's fields are its class annotations (its __init__ is msgspec's, in C).
    plain_class = isinstance(target, type) and not hasattr(target, "__struct_fields__")
    function = target.__init__ if plain_class else target
    try:
        return typing.get_type_hints(function)
    except Exception:  # an annotation that does not resolve: no type checks, names still are
        return {}


def _mismatch(hint: Any, value: Any) -> str | None:
    """What was expected when ``value`` cannot be of type ``hint``; None when it can."""
    if hint is None or value is None:
        return None
    members = _simple_members(hint)
    if not members:
        return None
    for member in members:
        if _fits(member, value):
            return None
    return " or ".join(_SIMPLE[m] for m in members)


@functools.lru_cache(maxsize=256)
def _simple_members(hint: Any) -> tuple[type, ...]:
    """The types of ``hint`` (its union's members, None left out) if all are simple; else ()
    (read once per hint: enqueue checks its options on every call)."""
    members = typing.get_args(hint) if isinstance(hint, types.UnionType) \
        or typing.get_origin(hint) is typing.Union else (hint,)
    members = tuple(m for m in members if m is not type(None))
    return members if all(m in _SIMPLE for m in members) else ()


def _fits(kind: type, value: Any) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind is float and isinstance(value, int | float):
        return True
    if isinstance(value, kind):
        return True
    if isinstance(value, str) and kind in (int, float):
        # Substituted ${VAR}s stay strings; the component converts "4" itself.
        try:
            kind(value.strip())
        except ValueError:
            return False
        return True
    return False
