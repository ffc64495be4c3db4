"""Settings read through the environment: ``OMNIQ_<NAME>`` over ``settings.<NAME>``.

Every setting has a spec: how to turn an environment string into the constant's type and
what to say when that fails. Values are read at call time, never cached, so a test (or a
process manager) that changes the environment is seen at once.

Rules for environment values:

* unset or empty: the constant in :mod:`omniq.config.settings` applies;
* ``none`` or ``null`` (any case): ``None``, for settings that may be ``None``;
* booleans: ``1/0``, ``true/false``, ``yes/no``, ``on/off`` (any case);
* numbers: decimal, finite, within the setting's bounds;
* ``COMPONENT_LOG_LEVELS``: a JSON object of logger name to level;
* ``QUEUES``: comma-separated names.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from functools import partial
from typing import Any, NamedTuple

from ..exceptions import ConfigError
from . import settings as _settings
from ._validate import NAME_RULE, redact_value, validate_name, validate_type_name

ENV_PREFIX = "OMNIQ_"
#: Level names accepted by LOG_LEVEL and COMPONENT_LOG_LEVELS (DISABLED silences).
LEVEL_NAMES = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "DISABLED")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_NULL = frozenset({"none", "null"})
_INT_RE = re.compile(r"[+-]?\d+")
_FLOAT_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


class _Spec(NamedTuple):
    #: Turns the stripped string into the value; any ValueError (ConfigError included) means
    #: invalid, and ``expected`` says why.
    parse: Callable[[str], Any]
    expected: str
    nullable: bool = False


def _bool(raw: str) -> bool:
    if raw.lower() not in _TRUE | _FALSE:
        raise ValueError(raw)
    return raw.lower() in _TRUE


def _int(minimum: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        if not _INT_RE.fullmatch(raw) or int(raw) < minimum:
            raise ValueError(raw)
        return int(raw)

    return parse


def _seconds(raw: str) -> float:
    value = float(raw) if _FLOAT_RE.fullmatch(raw) else math.nan
    if not math.isfinite(value) or value <= 0:
        raise ValueError(raw)
    return value


def _seconds_or_zero(raw: str) -> float:
    return 0.0 if _FLOAT_RE.fullmatch(raw) and float(raw) == 0 else _seconds(raw)


def parse_level(raw: str | int) -> str | int:
    """A level name from LEVEL_NAMES (upper case) or a non-negative int; ValueError if neither."""
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return raw
    if isinstance(raw, str):
        name = raw.strip().upper()
        if name == "WARN":
            return "WARNING"
        if name in LEVEL_NAMES:
            return name
        if _INT_RE.fullmatch(name) and int(name) >= 0:
            return int(name)
    raise ValueError(raw)


def _level(raw: str) -> str:
    return str(parse_level(raw))


def _levels(raw: str) -> dict[str, str]:
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError(raw)
    return {str(name): _level(str(level)) for name, level in data.items()}


def _queues(raw: str) -> list[str]:
    return [validate_name("queue", part.strip()) for part in raw.split(",")]


_SECONDS = "a finite number of seconds > 0"
_LEVELS = "one of " + ", ".join(LEVEL_NAMES)
_TYPE = "a type name such as memory, sqlite, postgres, redis, nats or file"
_URL = "a connection URL"
_type_name = partial(validate_type_name, "type")

SPECS: dict[str, _Spec] = {
    "PROJECT_NAME": _Spec(partial(validate_name, "project"), "a project name: " + NAME_RULE),
    "BASE_DIR": _Spec(str, "a directory path"),
    "LOG_LEVEL": _Spec(_level, _LEVELS),
    "DISABLE_LOGGING": _Spec(_bool, "a boolean: 1/0, true/false, yes/no or on/off"),
    "COMPONENT_LOG_LEVELS": _Spec(
        _levels, 'a JSON object of logger name to level (' + ", ".join(LEVEL_NAMES)
        + '), e.g. {"omniq.worker": "DEBUG"}'
    ),
    "TASK_QUEUE_TYPE": _Spec(_type_name, _TYPE),
    "TASK_QUEUE_URL": _Spec(str, _URL, nullable=True),
    "RESULT_STORAGE_TYPE": _Spec(_type_name, _TYPE, nullable=True),
    "RESULT_STORAGE_URL": _Spec(str, _URL, nullable=True),
    "EVENT_STORAGE_TYPE": _Spec(_type_name, _TYPE, nullable=True),
    "EVENT_STORAGE_URL": _Spec(str, _URL, nullable=True),
    "FSSPEC_URI": _Spec(str, "an fsspec URI such as file:///path or s3://bucket", nullable=True),
    "QUEUES": _Spec(_queues, "comma-separated queue names, highest priority first"),
    "DEFAULT_WORKER": _Spec(_type_name, "a worker type such as async, thread_pool, process_pool"),
    "MAX_WORKERS": _Spec(_int(1), "an integer >= 1"),
    "THREAD_WORKERS": _Spec(_int(1), "an integer >= 1"),
    "PROCESS_WORKERS": _Spec(_int(1), "an integer >= 1"),
    "GEVENT_WORKERS": _Spec(_int(1), "an integer >= 1"),
    "TASK_TIMEOUT": _Spec(_seconds, _SECONDS, nullable=True),
    "TASK_TTL": _Spec(_seconds, _SECONDS, nullable=True),
    "RETRY_ATTEMPTS": _Spec(_int(0), "an integer >= 0"),
    "RETRY_DELAY": _Spec(_seconds_or_zero, "a finite number of seconds >= 0"),
    "RESULT_TTL": _Spec(_seconds, _SECONDS, nullable=True),
    "LEASE_SECONDS": _Spec(_seconds, _SECONDS),
    "POLL_INTERVAL": _Spec(_seconds, _SECONDS),
    "WORKER_HEARTBEAT": _Spec(_seconds, _SECONDS),
    "MAX_DELIVERIES": _Spec(_int(1), "an integer >= 1"),
    "EVENT_RETENTION": _Spec(_seconds, _SECONDS, nullable=True),
    "SECRET_KEY": _Spec(str, "a secret key", nullable=True),
    "METRICS": _Spec(_bool, "a boolean: 1/0, true/false, yes/no or on/off"),
    "METRICS_PORT": _Spec(_int(0), "a TCP port number (0: any free port)", nullable=True),
    "METRICS_HOST": _Spec(str, "an address to bind, e.g. 127.0.0.1"),
    "TRACING": _Spec(_bool, "a boolean: 1/0, true/false, yes/no or on/off"),
}


def convert_setting(name: str, raw: str, *, var: str | None = None) -> Any:
    """The environment string ``raw`` as a value of setting ``name`` (``"MAX_WORKERS"``); an
    invalid one is a ConfigError naming the variable (``var``, default ``OMNIQ_<name>``)."""
    spec = _spec(name)
    value = raw.strip()
    if spec.nullable and value.lower() in _NULL:
        return None
    try:
        return spec.parse(value)
    except ValueError:
        var = var or ENV_PREFIX + name
        expected = f"{spec.expected}, or none" if spec.nullable else spec.expected
        raise ConfigError(f"invalid value for environment variable {var}", field=var,
                          value=redact_value(var, raw), expected=expected,
                          source="environment") from None


def get_setting(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """Setting ``name`` (no prefix, any case): ``OMNIQ_<NAME>`` from ``environ`` (default:
    ``os.environ``, read now) when set, else the constant; lists and dicts are fresh copies.
    ConfigError for an unknown name or an invalid value."""
    key = name.upper()
    _spec(key)  # an unknown name is an error even when no variable is set
    raw = (os.environ if environ is None else environ).get(ENV_PREFIX + key)
    if raw is not None and raw.strip():
        return convert_setting(key, raw)
    value = getattr(_settings, key)
    if isinstance(value, list | dict):
        return value.copy()
    return value


def _spec(name: str) -> _Spec:
    try:
        return SPECS[name]
    except KeyError:
        raise ConfigError("unknown setting", field="name", value=name,
                          expected="one of " + ", ".join(SPECS)) from None


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Every setting at one moment, environment applied (see :func:`get_settings`)."""

    project_name: str
    base_dir: str
    log_level: str
    disable_logging: bool
    component_log_levels: dict[str, str]
    task_queue_type: str
    task_queue_url: str | None
    result_storage_type: str | None
    result_storage_url: str | None
    event_storage_type: str | None
    event_storage_url: str | None
    fsspec_uri: str | None
    queues: list[str]
    default_worker: str
    max_workers: int
    thread_workers: int
    process_workers: int
    gevent_workers: int
    task_timeout: float | None
    task_ttl: float | None
    retry_attempts: int
    retry_delay: float
    result_ttl: float | None
    lease_seconds: float
    poll_interval: float
    worker_heartbeat: float
    max_deliveries: int
    event_retention: float | None
    secret_key: str | None
    metrics: bool
    metrics_port: int | None
    metrics_host: str
    tracing: bool

    def __repr__(self) -> str:
        # The secret key and URL passwords must never reach a log through a repr.
        parts = (f"{f.name}={redact_value(f.name, getattr(self, f.name))!r}" for f in fields(self))
        return f"Settings({', '.join(parts)})"


def get_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """A frozen snapshot of every setting, each read as :func:`get_setting` does."""
    return Settings(**{name.lower(): get_setting(name, environ) for name in SPECS})


def parse_env_value(raw: str) -> Any:
    """A free-form environment string (a component option) as a Python value: ``[...]`` and
    ``{...}`` are JSON (ConfigError if invalid), ``true``/``false`` booleans, decimal numbers
    ``int`` or ``float``, a value with commas a list of such scalars (``high,medium,low``);
    anything else stays a string."""
    value = raw.strip()
    if value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"invalid JSON ({exc.msg} at column {exc.colno})", value=raw,
                              expected="valid JSON, or a plain value") from None
    if "," in value:
        return [_scalar(part.strip()) for part in value.split(",")]
    return _scalar(value)


def _scalar(value: str) -> Any:
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if _INT_RE.fullmatch(value):
        return int(value)
    if _FLOAT_RE.fullmatch(value):
        return float(value)
    return value
