"""The configuration reference, generated from the settings definitions so it cannot drift.

* Settings: every constant of :mod:`omniq.config.settings` (its ``#:`` comment, default and
  type) with its ``OMNIQ_`` environment variable and the values that variable accepts (the
  spec :func:`omniq.config.get_setting` converts it with).
* The configuration file's keys: the fields of :class:`~omniq.models.OmniQConfig`,
  :class:`~omniq.models.ComponentConfig` and :class:`~omniq.models.WorkerConfig`, with the
  descriptions of their docstrings.
* The environment variables :func:`omniq.config.config_from_env` reads besides the settings,
  checked against its source: a variable it reads that this table lacks fails the build.
* The options of every installed type (what goes under ``config:``): the constructor's
  parameters, with defaults and the descriptions of the class's ``Args:``.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from omniq import plugins
from omniq.config import _env, _loader, settings
from omniq.models import ComponentConfig, OmniQConfig, WorkerConfig

_COMMENT_RE = re.compile(r"^((?:#:.*\n)+)([A-Z_]+):", re.M)
# One argument (``name (type): text``) or several sharing a text (``host, port: text``).
_ARG_RE = re.compile(r"^    (\*{0,2}\w+(?:, \*{0,2}\w+)*)(?: \([^)]*\))?: (.*)$")

#: Variables ``config_from_env`` reads besides ``OMNIQ_<SETTING>``, and what each does.
#: ``<C>`` is ``TASK_QUEUE``, ``RESULT_STORAGE`` (or ``RESULT_STORE``), ``EVENT_STORAGE`` (or
#: ``EVENT_STORE``).
FROM_ENV = {
    "OMNIQ_<C>_TYPE": "the component's type name; `none` leaves it unset",
    "OMNIQ_<C>_URL": "the component's URL (its scheme may name the type)",
    "OMNIQ_<C>_CONFIG_<KEY>": "the component option `key` (lower case); `high,low` is a "
                              "list, `10` an int, `true` a bool, `[...]`/`{...}` JSON",
    "OMNIQ_WORKER_TYPE": "the worker type (`OMNIQ_DEFAULT_WORKER` also works)",
    "OMNIQ_WORKER_CONFIG_<KEY>": "the worker option `key`, converted as above",
    "OMNIQ_BACKEND_TYPE": "one engine for all three stores (`backend_type`)",
}


def write(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(reference())
    return path


def reference() -> str:
    return "\n".join([*settings_section(), *file_section(), *env_section(),
                      *options_section()]) + "\n"


def setting_comments() -> dict[str, str]:
    """Each setting's ``#:`` comment in ``settings.py``; a setting without one fails."""
    source = Path(settings.__file__).read_text()
    found = {m[2]: " ".join(line[2:].strip() for line in m[1].splitlines())
             for m in _COMMENT_RE.finditer(source)}
    missing = [name for name in settings.NAMES if name not in found]
    if missing:
        raise SystemExit(f"settings without a #: comment in {settings.__file__}: {missing}")
    return found


def settings_section() -> list[str]:
    comments = setting_comments()
    if set(_env.SPECS) != set(settings.NAMES):
        raise SystemExit("omniq.config._env.SPECS and omniq.config.settings disagree: "
                         f"{sorted(set(_env.SPECS) ^ set(settings.NAMES))}")
    lines = ["## Settings and their environment variables {#settings}", "",
             "Every setting of `omniq.config.settings`, with the environment variable that "
             "overrides it (read each time the setting is used) and the values it takes. "
             "Read one with `omniq.config.get_setting(\"MAX_WORKERS\")`.", "",
             "| setting | environment variable | default | accepted values | meaning |",
             "|---|---|---|---|---|"]
    for name in settings.NAMES:
        spec = _env.SPECS[name]
        expected = spec.expected + (", or `none`" if spec.nullable else "")
        default = getattr(settings, name)
        shown = "the number of CPUs" if name == "PROCESS_WORKERS" else f"`{default!r}`"
        lines.append(f"| `{name}` | `{_env.ENV_PREFIX}{name}` | {shown} | "
                     f"{cell(expected)} | {cell(comments[name])} |")
    lines += ["", "Environment values: unset or empty means the default; `none` or `null` means "
              "`None` where a setting may be `None`; booleans accept `1/0`, `true/false`, "
              "`yes/no`, `on/off`.", ""]
    return lines


def struct_fields(struct: type) -> list[tuple[str, str, str]]:
    """(field, type, description) of a config struct, described by its ``Attributes:``."""
    described = docstring_args(struct, section="Attributes")
    rows = []
    hints = inspect.get_annotations(struct, eval_str=False)
    for field in struct.__struct_fields__:
        kind = hints.get(field, "")
        kind = getattr(kind, "__name__", None) or str(kind).replace("typing.", "")
        kind = re.sub(r"\b(?:\w+\.)+(\w+)", r"\1", kind)  # omniq.models._config.X -> X
        rows.append((field, kind, described.get(field, "")))
    return rows


def file_section() -> list[str]:
    lines = ["## Configuration file and dictionary keys {#file}", "",
             "`OmniQ.from_config_file(path)`, `OmniQ.from_config_dict(data)`, "
             "`omniq worker --config path` and `OmniQConfig(...)` take the same keys. "
             "An unknown key is refused with the closest valid name.", "",
             "| key | type | meaning |", "|---|---|---|"]
    for field, kind, text in struct_fields(OmniQConfig):
        lines.append(f"| `{field}` | {cell(f'`{kind}`')} | {cell(text)} |")
    aliases = ", ".join(f"`{a}` for `{f}`" for a, f in _loader.ALIASES.items())
    lines += ["", f"Other spellings accepted: {aliases}. A component may also be a bare "
              "string: `task_queue: sqlite` names its type, `task_queue: redis://host` its URL.",
              "", "Keys of `task_queue`, `result_store` and `event_store`:", "",
              "| key | type | meaning |", "|---|---|---|"]
    described = docstring_args(ComponentConfig, section="Attributes")
    for field in ComponentConfig.__struct_fields__:
        lines.append(f"| `{field}` | | {cell(described.get(field, ''))} |")
    lines += ["", f"Keys of `worker`: {cell(inspect.getdoc(WorkerConfig) or '')}", "",
              "| key | meaning |", "|---|---|",
              "| `type` | the worker type (see below) |",
              "| `config` | the worker type's options (see below) |", ""]
    lines += ["`${VAR}` and `${VAR:-default}` in a file's string values are replaced by "
              "environment variables; `$${` is a literal `${`.", ""]
    return lines


def env_section() -> list[str]:
    source = inspect.getsource(_loader.config_from_env)
    read = set(re.findall(r'get\("([A-Z_]+)"\)', source))
    documented = {name.removeprefix("OMNIQ_") for name in FROM_ENV}
    settings_vars = set(settings.NAMES)
    unknown = read - documented - settings_vars
    if unknown:
        raise SystemExit(f"config_from_env reads {sorted(unknown)}: describe them in "
                         f"{__file__} (FROM_ENV)")
    lines = ["## Environment variables for `OmniQ.from_env()` {#environment}", "",
             "`OmniQ.from_env()` and `omniq worker` (with no `--config`) build the "
             "configuration from these, on top of the settings' variables above "
             "(`OMNIQ_PROJECT_NAME`, `OMNIQ_QUEUES`, `OMNIQ_MAX_WORKERS`, `OMNIQ_SECRET_KEY` "
             "...). `<C>` is " + ", ".join(
                 f"`{s}`" for spellings in _loader._ENV_COMPONENTS.values() for s in spellings)
             + ".", "", "| variable | meaning |", "|---|---|"]
    for name, text in FROM_ENV.items():
        lines.append(f"| `{name}` | {text} |")
    lines += ["", "Read besides: `XDG_CONFIG_HOME` (generated signing keys are kept in "
              "`$XDG_CONFIG_HOME/omniq/keys/`, by default `~/.config/omniq/keys/`), and, by "
              "`omniq-postgres`, libpq's `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD` and "
              "`PGDATABASE` for what a connection's settings leave out.", ""]
    return lines


def options_section() -> list[str]:
    lines = ["## Options of each installed type {#options}", "",
             "What a component or worker takes as keyword arguments, under `config:` in a "
             "file, or as `OMNIQ_<C>_CONFIG_<KEY>`. Listed for the types installed when the "
             "site was built (every distribution of this repository).", ""]
    skip = {"self", "project_name", "secret_key", "queue", "task_queue", "result_store",
            "event_store"}
    kinds = {"task_queue": "Task queues", "result_store": "Result stores",
             "event_store": "Event stores", "backend": "Backend bundles", "worker": "Workers"}
    queue_types = {t.name for t in plugins.available() if t.kind == "task_queue"}
    for kind, heading in kinds.items():
        lines += [f"### {heading} {{#options-{kind.replace('_', '-')}}}", ""]
        for found in plugins.available():
            if found.kind != kind:
                continue
            cls = plugins.resolve(kind, found.name)
            aliases = f" (also {', '.join(f'`{a}`' for a in found.aliases)})" \
                if found.aliases else ""
            lines += [f"#### `{found.name}`{aliases}: `{cls.__name__}` "
                      f"{{#{kind.replace('_', '-')}-{found.name.replace('_', '-')}}}", "",
                      f"From `{found.distribution}`."
                      + (f" URL schemes: {', '.join(f'`{s}://`' for s in found.schemes)}."
                         if found.schemes else ""), ""]
            described = docstring_args(cls)
            if kind != "task_queue" and found.name in queue_types:
                # Stores and bundles of an engine take its task queue's connection options,
                # documented once, on the task queue.
                described = {**docstring_args(plugins.resolve("task_queue", found.name)),
                             **described}
            params = [p for p in inspect.signature(cls).parameters.values()
                      if p.name not in skip and p.kind is not p.VAR_KEYWORD]
            if not params:
                lines += ["No options.", ""]
                continue
            lines += ["| option | default | meaning |", "|---|---|---|"]
            for p in params:
                default = "" if p.default is p.empty else f"`{p.default!r}`"
                lines.append(f"| `{p.name}` | {default} | {cell(described.get(p.name, ''))} |")
            lines.append("")
    return lines


def docstring_args(cls: type, section: str = "Args") -> dict[str, str]:
    """Descriptions of the ``Args:`` (or ``Attributes:``) of ``cls`` and its bases, the
    class's own first."""
    found: dict[str, str] = {}
    for klass in cls.__mro__:
        doc = klass.__dict__.get("__doc__")
        if isinstance(doc, str):
            for name, text in _section_items(doc, section).items():
                found.setdefault(name, text)
    return found


def _section_items(doc: str, section: str) -> dict[str, str]:
    items: dict[str, str] = {}
    inside, current = False, []
    for line in inspect.cleandoc(doc).splitlines():
        if line.strip() == f"{section}:":
            inside = True
        elif inside and line and not line.startswith(" "):
            inside = False
        elif inside and (match := _ARG_RE.match(line)):
            current = [name.strip().lstrip("*") for name in match[1].split(",")]
            items.update(dict.fromkeys(current, match[2]))
        elif inside and current and line.startswith("        "):
            for name in current:
                items[name] += " " + line.strip()
    return items


def cell(text: str) -> str:
    """Text for a table cell: reST literals to Markdown, pipes escaped."""
    text = re.sub(r":(?:class|func|meth|mod|attr):`~?([^`]+)`", r"``\1``", text)
    text = re.sub(r"``(.+?)``", r"`\1`", text)
    # A pipe splits a table cell even inside a code span (where a backslash would show), so
    # unions in code read "X or None"; elsewhere the pipe is escaped.
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(p.replace(" | ", " or ") if p.startswith("`") else p.replace("|", "\\|")
                   for p in parts).strip()


__all__ = ["reference", "write"]
