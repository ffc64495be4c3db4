"""Building an :class:`~omniq.models.OmniQConfig` from a dict, a YAML file or the environment.

Every failure is a :class:`~omniq.exceptions.ConfigError` naming the field (``$.task_queue.type``
style, as msgspec reports paths), the value, what was expected and, for a file, the file (and
line and column when YAML itself is malformed).
"""

from __future__ import annotations

import difflib
import os
import re
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import yaml

from ..exceptions import ConfigError
from ..models._config import ComponentConfig, OmniQConfig, WorkerConfig
from ._env import ENV_PREFIX, SPECS, convert_setting, parse_env_value
from ._options import did_you_mean
from ._validate import redact_value

#: Seed spellings accepted in dicts and files, and the field each one means.
ALIASES = {"result_storage": "result_store", "event_storage": "event_store"}
_COMPONENTS = ("task_queue", "result_store", "event_store")
_KNOWN = tuple(OmniQConfig.__struct_fields__)
_A_MAPPING = "a mapping of " + ", ".join(_KNOWN)

# ${VAR} or ${VAR:-default}; "$${" is a literal "${".
# "$${" (a literal "${"), "${VAR}" or "${VAR:-default}", or any other "${...}" (refused).
_PLACEHOLDER_RE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{[^}]*\}?")
_ERROR_RE = re.compile(r"^(?P<msg>.*?)(?: - at `(?P<path>[^`]*)`(?: in `(?P<outer>[^`]*)`)?)?$")
_PATH_TOKEN_RE = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def parse_config(data: Mapping[str, Any], *, source: str | None = None) -> OmniQConfig:
    """Validate a configuration mapping (``source``: where it came from, for messages).

    Accepts the seeds' ``result_storage``/``event_storage`` for ``result_store``/``event_store``,
    and a bare string for a component (``task_queue: sqlite`` or
    ``task_queue: redis://localhost``), meaning its type or its URL.
    """
    if not isinstance(data, Mapping):
        raise ConfigError("configuration must be a mapping", field="$",
                          value=type(data).__name__, expected=_A_MAPPING, source=source)
    normalized = _normalize(data, source)
    try:
        return msgspec.convert(normalized, OmniQConfig)
    except msgspec.ValidationError as exc:
        raise _translate(exc, normalized, source) from None


def load_config_file(
    path: str | os.PathLike[str], env_vars: bool = True, **overrides: Any
) -> OmniQConfig:
    """Read a YAML configuration file (an empty one is every default).

    ``env_vars`` replaces ``${VAR}`` and ``${VAR:-default}`` in string values with environment
    variables (``$${`` stays a literal ``${``), the one rule for ``OmniQ.from_config_file`` and
    ``omniq worker --config`` alike; substituted values stay strings, each component converts
    its own options. ``overrides`` replace top-level keys (``project_name="x"``); ``worker_type``
    sets ``worker.type`` and ``worker_config`` is merged into ``worker.config``. An error names
    the file and, where it can, the line.
    """
    source = os.fspath(path)
    check_override_keys(overrides)
    data = read_yaml_mapping(source)
    if env_vars:
        data = substitute_env(data, source=source)
    try:
        return parse_config(apply_overrides(data, overrides, source=source), source=source)
    except ConfigError as exc:
        raise locate_error(exc, source) from None


def locate_error(exc: ConfigError, path: str | os.PathLike[str]) -> ConfigError:
    """``exc`` with the file and the line of its field (``task_queue.config.max_retires``)
    as its source, when the field is a key of that YAML file."""
    source = os.fspath(path)
    field = (exc.field or "").removeprefix("$").removeprefix(".")
    try:
        line = _key_lines(Path(source).read_text(encoding="utf-8")).get(field)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        line = None
    if line is None and exc.source is not None:
        return exc
    where = f"{source}, line {line}" if line is not None else source
    return ConfigError(exc.message, field=exc.field, value=exc.value, expected=exc.expected,
                       source=where, hint=exc.hint)


def _key_lines(text: str) -> dict[str, int]:
    """The 1-based line of every mapping key, by dotted path (seed aliases as their field)."""
    lines: dict[str, int] = {}

    def walk(node: yaml.Node, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = str(key.value) if prefix else ALIASES.get(key.value, str(key.value))
                lines[prefix + name] = key.start_mark.line + 1
                walk(value, f"{prefix}{name}.")

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        walk(root, "")
    return lines


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader refusing a key given twice in one mapping (YAML would keep the last one
    and drop the first without a word)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice in one mapping",
                    key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml_mapping(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The mapping at the top of a YAML file (empty file: empty mapping); a ConfigError naming
    the file when it is missing or unreadable, malformed (with line and column) or no mapping."""
    source = os.fspath(path)
    try:
        text = Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("configuration file not found", source=source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read configuration file: {exc}", source=source) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no objects built
    except yaml.YAMLError as exc:
        mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"malformed YAML{where}: {problem or exc}", source=source) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("configuration file must hold a mapping at the top level", field="$",
                          value=type(data).__name__, expected=_A_MAPPING, source=source)
    return data


def apply_overrides(
    data: Mapping[str, Any], overrides: Mapping[str, Any], *, source: str | None = None
) -> dict[str, Any]:
    """``data`` with top-level keys replaced and ``worker_type``/``worker_config`` applied;
    values may be config structs (``task_queue=TaskQueueConfig(...)``) or plain builtins."""
    result = {ALIASES.get(key, key): value for key, value in data.items()}
    check_override_keys(overrides)
    for key, value in overrides.items():
        if isinstance(value, msgspec.Struct):
            value = msgspec.to_builtins(value)
        key = ALIASES.get(key, key)
        if key not in ("worker_type", "worker_config"):
            result[key] = value
            _give_way(result, key)
            continue
        worker = result.get("worker")
        if isinstance(worker, WorkerConfig):
            worker = worker.to_dict()
        worker = dict(worker) if isinstance(worker, Mapping) else {}
        if key == "worker_type":
            worker["type"] = value
        elif isinstance(value, Mapping):
            worker["config"] = {**(worker.get("config") or {}), **value}
        else:
            raise ConfigError("invalid override", field=key, value=value, expected="a mapping",
                              source=source)
        result["worker"] = worker
    return result


def check_override_keys(overrides: Mapping[str, Any]) -> None:
    """Refuse a keyword that is not a key of a configuration: the caller's mistake, not the
    file's (so the error names no file)."""
    known = {*OmniQConfig.__struct_fields__, *ALIASES, "worker_type", "worker_config"}
    for key, value in overrides.items():
        if key not in known:
            raise ConfigError(f"unknown keyword argument {key!r}", field=key,
                              value=redact_value(key, value),
                              expected="one of " + ", ".join(sorted(known)) + " (a worker's "
                                       "options go in worker_config={...})",
                              hint=did_you_mean(key, known) or None)


def _give_way(config: dict[str, Any], overridden: str) -> None:
    """Drop what in the file a keyword overrides through another key: the file's task queue
    when the keyword chooses the engine (``backend_type=``), its backend type when it names
    the task queue, and the task queue's own ``queues`` when it gives the queues."""
    if overridden == "backend_type":
        config.pop("task_queue", None)
    elif overridden == "task_queue":
        config.pop("backend_type", None)
    elif overridden == "queues" and isinstance(queue := config.get("task_queue"), Mapping) \
            and isinstance(queue.get("config"), Mapping) and "queues" in queue["config"]:
        config["task_queue"] = {**queue, "config": {
            k: v for k, v in queue["config"].items() if k != "queues"}}


def substitute_env(
    data: Any, environ: Mapping[str, str] | None = None, *, source: str | None = None
) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string value of ``data``
    (recursively; keys are left alone). The default applies when VAR is unset or empty; an
    unset VAR without one is a ConfigError."""
    env = os.environ if environ is None else environ

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, str):
            return _PLACEHOLDER_RE.sub(lambda m: replace(m, path), value)
        if isinstance(value, dict):
            return {k: walk(v, f"{path}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, f"{path}[{i}]") for i, v in enumerate(value)]
        return value

    def replace(match: re.Match[str], path: str) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        if name is None or (default is not None and "${" in default):
            raise ConfigError(f"unsupported placeholder {match.group(0)!r}", field=path,
                              value=match.group(0), source=source,
                              expected="${VAR} or ${VAR:-default} (not nested); $${ for a "
                                       "literal ${")
        found = env.get(name)
        if found is not None and (found or default is None):  # set, if only to "" (no default)
            return found
        if default is not None:
            return default
        raise ConfigError(f"environment variable {name} is not set and ${{{name}}} has no "
                          f"default (write ${{{name}:-default}} to give one)", field=path,
                          value=match.group(0), source=source)

    return walk(data, "$")


# Environment spellings of each component; the first is the seed's, the second matches YAML.
_ENV_COMPONENTS = {
    "task_queue": ("TASK_QUEUE",),
    "result_store": ("RESULT_STORAGE", "RESULT_STORE"),
    "event_store": ("EVENT_STORAGE", "EVENT_STORE"),
}


# Every variable name OmniQ reads (without the prefix), and the prefixes of those that carry
# options (``OMNIQ_TASK_QUEUE_CONFIG_QUEUES``).
_ENV_NAMES = (*SPECS, "WORKER_TYPE", "BACKEND_TYPE", "COMMAND_MODULE",
              *(f"{spelling}_{part}" for spellings in _ENV_COMPONENTS.values()
                for spelling in spellings for part in ("TYPE", "URL")))
_ENV_OPTION_PREFIXES = ("WORKER_CONFIG_", *(f"{spelling}_CONFIG_"
                                            for spellings in _ENV_COMPONENTS.values()
                                            for spelling in spellings))
_warned_variables: set[str] = set()


def misspelt_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """A message for each ``OMNIQ_*`` variable OmniQ does not read whose name is close to one
    it does (``OMNIQ_TASK_QUEUE_TPYE``), each once per process: the setting it was meant for
    would otherwise keep its default without a word. Names far from every variable of ours
    are left alone (a deployment's own ``OMNIQ_*`` variables)."""
    env = os.environ if environ is None else environ
    messages = []
    for var in env:
        name = var[len(ENV_PREFIX):]
        if (not var.startswith(ENV_PREFIX) or var in _warned_variables or name in _ENV_NAMES
                or name.startswith(_ENV_OPTION_PREFIXES)):
            continue
        closest = difflib.get_close_matches(name, _ENV_NAMES, n=1, cutoff=0.6)
        if closest:
            _warned_variables.add(var)
            messages.append(f"{var} is not a variable OmniQ reads, so it changes nothing; the "
                            f"closest one is {ENV_PREFIX}{closest[0]} (every variable: "
                            "docs/user_guide/configuration_reference.qmd)")
    return messages


def warn_about_misspelt_variables() -> None:
    """:func:`misspelt_variables` as warnings, pointed at the caller's code."""
    for message in misspelt_variables():
        warnings.warn(message, UserWarning, stacklevel=_first_frame_outside_omniq())


def _first_frame_outside_omniq() -> int:
    """The ``stacklevel`` that points a warning at the caller's code, out of OmniQ's."""
    package = str(Path(__file__).parents[1])
    level, frame = 2, sys._getframe(2)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(package):
        level, frame = level + 1, frame.f_back
    return level


def config_from_env(
    prefix: str = ENV_PREFIX, environ: Mapping[str, str] | None = None
) -> OmniQConfig:
    """Build an :class:`OmniQConfig` from ``OMNIQ_*`` environment variables.

    Reads ``<prefix>PROJECT_NAME``; for each component ``TASK_QUEUE``, ``RESULT_STORAGE`` (or
    ``RESULT_STORE``) and ``EVENT_STORAGE`` (or ``EVENT_STORE``): ``<prefix><C>_TYPE``,
    ``<prefix><C>_URL`` and ``<prefix><C>_CONFIG_<KEY>`` (the option ``key``, lower case, its
    value converted by :func:`~omniq.config.parse_env_value`: ``high,medium,low`` is a list,
    ``10`` an int, ``true`` a bool, ``[...]``/``{...}`` JSON); ``WORKER_TYPE`` (or
    ``DEFAULT_WORKER``), ``WORKER_CONFIG_<KEY>`` and ``MAX_WORKERS`` (the worker's
    ``max_workers``); ``QUEUES``, ``BACKEND_TYPE`` and ``SECRET_KEY``. A type of ``none``
    leaves that component unset. Variables not set leave the field unset, so the settings'
    defaults apply later. An invalid value is a ConfigError naming the variable.
    """
    env = os.environ if environ is None else environ
    data: dict[str, Any] = {}

    def get(name: str) -> str | None:
        raw = env.get(prefix + name)
        return raw.strip() if raw is not None and raw.strip() else None

    def setting(name: str, var: str) -> Any:  # the value of variable ``var`` as setting ``name``
        return convert_setting(name, get(var) or "", var=prefix + var)

    if get("PROJECT_NAME") is not None:
        data["project_name"] = setting("PROJECT_NAME", "PROJECT_NAME")
    for field, spellings in _ENV_COMPONENTS.items():
        component: dict[str, Any] = {}
        for spelling in spellings:
            for key, value in _component_from_env(env, prefix, spelling).items():
                if key in component and component[key] != value:
                    raise ConfigError(f"{prefix}{spellings[0]}_* and {prefix}{spelling}_* "
                                      "disagree", field=f"{field}.{key}",
                                      value=redact_value(key, value), source="environment",
                                      expected="one spelling, or the same value in both")
                component[key] = value
        if component:
            data[field] = component
    worker: dict[str, Any] = {}
    if get("WORKER_TYPE") or get("DEFAULT_WORKER"):
        worker["type"] = setting("DEFAULT_WORKER",
                                 "WORKER_TYPE" if get("WORKER_TYPE") else "DEFAULT_WORKER")
    worker_config = _options_from_env(env, f"{prefix}WORKER_CONFIG_")
    if get("MAX_WORKERS") is not None:
        worker_config.setdefault("max_workers", setting("MAX_WORKERS", "MAX_WORKERS"))
    if worker_config:
        worker["config"] = worker_config
    if worker:
        data["worker"] = worker
    if get("QUEUES") is not None:
        data["queues"] = setting("QUEUES", "QUEUES")
    if get("BACKEND_TYPE") is not None:
        data["backend_type"] = setting("TASK_QUEUE_TYPE", "BACKEND_TYPE")
    if get("SECRET_KEY") is not None:
        data["secret_key"] = get("SECRET_KEY")
    return parse_config(data, source="environment")


def _component_from_env(env: Mapping[str, str], prefix: str, name: str) -> dict[str, Any]:
    component: dict[str, Any] = {}
    raw_type = (env.get(f"{prefix}{name}_TYPE") or "").strip()
    if raw_type and raw_type.lower() not in ("none", "null"):
        component["type"] = convert_setting("TASK_QUEUE_TYPE", raw_type, var=f"{prefix}{name}_TYPE")
    url = (env.get(f"{prefix}{name}_URL") or "").strip()
    if url:
        component["url"] = url
    options = _options_from_env(env, f"{prefix}{name}_CONFIG_")
    if options:
        component["config"] = options
    return component


def _options_from_env(env: Mapping[str, str], start: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for var in sorted(v for v in env if v.startswith(start)):
        key = var[len(start):].lower()
        if not key:
            raise ConfigError("option name missing", field=var, value=env[var],
                              expected=f"{start}<OPTION>=value", source="environment")
        try:
            options[key] = parse_env_value(env[var])
        except ConfigError as exc:
            raise ConfigError(f"invalid value for environment variable {var}", field=var,
                              value=redact_value(key, env[var]), expected=exc.expected,
                              source="environment") from None
    return options


def _normalize(data: Mapping[str, Any], source: str | None) -> dict[str, Any]:
    result: dict[str, Any] = {}
    names = _KNOWN + tuple(ALIASES)
    for key, value in data.items():
        field = ALIASES.get(key, key) if isinstance(key, str) else key
        if field not in _KNOWN:
            raise ConfigError(f"unknown configuration key {key!r}", field=f"$.{key}",
                              value=redact_value(str(key), value), source=source,
                              expected="one of " + ", ".join(names),
                              hint=did_you_mean(str(key), names) or None)
        if field in result:
            raise ConfigError(f"{field!r} given twice (as {field!r} and as its alias)",
                              field=field, value=key, expected="one of the two spellings",
                              source=source)
        if field in _COMPONENTS and isinstance(value, str):
            # Shorthand: "task_queue: sqlite" names the type, "task_queue: redis://h" the URL.
            value = {"url": value} if ":" in value or "/" in value else {"type": value}
        elif field == "worker" and isinstance(value, str):
            value = {"type": value}  # the same shorthand: "worker: thread_pool"
        if isinstance(value, msgspec.Struct):
            value = msgspec.to_builtins(value)
        result[field] = value
    return result


def _translate(
    exc: msgspec.ValidationError, data: Mapping[str, Any], source: str | None
) -> ConfigError:
    """Turn msgspec's ``Expected `int`, got `str` - at `$.x` `` into a ConfigError."""
    cause = exc.__cause__
    match = _ERROR_RE.match(str(exc))
    message = match["msg"] if match else str(exc)
    path = ((match["outer"] or match["path"]) if match else None) or "$"
    if isinstance(cause, ConfigError):
        # Raised by a struct's __post_init__ (an invalid name): keep its field and wording.
        return ConfigError(str(cause.args[0]).split(";")[0], value=cause.value, source=source,
                           field=f"{path}.{cause.field}" if cause.field else path,
                           expected=cause.expected)
    if match and match["outer"] and match["path"] == "key":
        return ConfigError("invalid key in mapping", field=path, value=_lookup(data, path),
                           expected=_expected(message) + " keys", source=source)
    unknown = re.match(r"Object contains unknown field `([^`]*)`", message)
    if unknown:
        name, struct = unknown[1], _struct_at(path)
        fields = struct.__struct_fields__ if struct else ()
        return ConfigError(f"unknown configuration key {name!r}", field=f"{path}.{name}",
                           value=redact_value(name, _lookup(data, f"{path}.{name}")),
                           expected=f"one of {', '.join(fields)}" if struct else None,
                           source=source, hint=did_you_mean(name, fields) if struct else None)
    value = redact_value(path.rsplit(".", 1)[-1], _lookup(data, path))
    expected = None
    if message.startswith("Expected `"):
        expected, message = _expected(message), "invalid value"
    return ConfigError(message, field=path, value=value, expected=expected, source=source)


def _expected(message: str) -> str:
    # "Expected `str | null`, got `int`" -> "str | null"
    return message.partition("`")[2].partition("`")[0] or message


def _lookup(data: Any, path: str) -> Any:
    value = data
    for name, index in _PATH_TOKEN_RE.findall(path):
        try:
            value = value[name] if name else value[int(index)]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def _struct_at(path: str) -> type[msgspec.Struct] | None:
    parts = path.split(".")
    if len(parts) == 1:
        return OmniQConfig
    if len(parts) == 2:
        return WorkerConfig if parts[1] == "worker" else ComponentConfig
    return None
