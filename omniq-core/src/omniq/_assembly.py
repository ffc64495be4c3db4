"""Turning what a user wrote (an object, a type name, a URL, a dict, a config struct, a
backend) into component objects, through the plugin registry."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import msgspec

from . import plugins
from ._sync import as_async
from .config import check_options
from .exceptions import ConfigError


def component(kind: str, spec: Any, *, project_name: str, secret_key: str | None = None,
              **defaults: Any) -> Any:
    """An async component of ``kind`` from ``spec``; None stays None.

    ``spec`` may be a component (sync or async), a type name (``"redis"``), a URL
    (``"redis://host/0"``, ``"sqlite:///tasks.db"``), a mapping or struct with ``type``,
    ``url`` and ``config``. ``defaults`` (like ``queues``) apply unless the spec sets them.
    """
    if spec is None:
        return None
    if isinstance(spec, msgspec.Struct):
        spec = {f: getattr(spec, f) for f in spec.__struct_fields__}
    if isinstance(spec, str):
        type_name, url = plugins.split_type(kind, spec)
        spec = {"type": type_name, "url": url}
    if isinstance(spec, Mapping):
        return _from_mapping(kind, spec, project_name, secret_key, defaults)
    obj = as_async(spec)
    if getattr(obj, "kind", None) != kind:
        raise ConfigError(f"not a {kind.replace('_', ' ')}", field=kind, value=spec,
                          expected=f"a {kind.replace('_', ' ')} object, a type name or a URL")
    return obj


def _from_mapping(kind: str, spec: Mapping[str, Any], project_name: str,
                  secret_key: str | None, defaults: dict[str, Any]) -> Any:
    unknown = set(spec) - {"type", "url", "config"}
    if unknown:
        raise ConfigError(f"unknown key(s) in {kind} config: {sorted(unknown)}",
                          field=kind, value=dict(spec), expected="type, url and config")
    type_name, url = spec.get("type"), spec.get("url")
    if type_name is None and url is None:
        raise ConfigError(f"{kind} needs a type or a url", field=f"{kind}.type", value=None,
                          expected="a type name such as 'sqlite', or a URL")
    # One of the two is set (checked above).
    cls = plugins.resolve(kind, type_name) if type_name else plugins.resolve_url(kind, str(url))
    options: dict[str, Any] = {**defaults, **dict(spec.get("config") or {})}
    if url is not None:
        options["url"] = url
    options.setdefault("project_name", project_name)
    if secret_key:
        options.setdefault("secret_key", secret_key)
    return _construct(cls, options, what=f"the {type_name or 'URL'} {kind.replace('_', ' ')}",
                      field_prefix=f"{kind}.config.")


def _construct(cls: type, options: dict[str, Any], *, what: str, field_prefix: str) -> Any:
    options = _accepted(cls, options)
    check_options(cls, options, what=what, field_prefix=field_prefix, ignore=_NOT_OPTIONS)
    if hasattr(cls, "from_dict"):
        return cls.from_dict(options)
    return cls(**options)


# Parameters the assembly fills in itself, so never offered as "did you mean" to a user.
_NOT_OPTIONS = ("project_name", "secret_key")


def _check_component_settings(cls: Any, settings: dict[str, Any], *, what: str,
                              field_prefix: str) -> None:
    """Refuse a setting component class ``cls`` does not take: one of its parameters, or,
    when it hands the rest on (``**component``), a field of its config struct."""
    ignore = (*_NOT_OPTIONS, "queues")  # the bundle's own to pass
    if not _passes_on(cls):
        check_options(cls, settings, what=what, ignore=ignore, field_prefix=field_prefix)
    elif cls.config_class is not None:
        fields = cls.config_class.__struct_fields__
        live = [name for name, p in inspect.signature(cls).parameters.items()  # a client=
                if p.kind is not inspect.Parameter.VAR_KEYWORD
                and name not in fields and name not in ignore]
        check_options(cls.config_class, settings, what=what, ignore=ignore, also=live,
                      field_prefix=field_prefix)


def _passes_on(cls: type) -> bool:
    """Whether ``cls`` takes any keyword (``**settings``), to hand on to other classes."""
    return any(p.kind is inspect.Parameter.VAR_KEYWORD
               for p in inspect.signature(cls).parameters.values())


def _accepted(cls: type, options: dict[str, Any]) -> dict[str, Any]:
    """Drop defaults (not user options) that this class does not take, e.g. ``queues`` for a
    result store; user options still reach ``from_dict``, which names any it rejects."""
    if _passes_on(cls):
        return options
    params = inspect.signature(cls).parameters
    return {k: v for k, v in options.items()
            if k in params or k not in ("queues", "secret_key")}


def check_backend_settings(cls: Any, spec: str, settings: dict[str, Any], *,
                           field_prefix: str = "") -> None:
    """Refuse a setting the backend bundle ``cls`` (type name ``spec``) does not take, or, when
    it hands them all on (``**settings``), one that a component it builds does not take."""
    check_options(cls, settings, what=f"the {spec} backend", ignore=_NOT_OPTIONS,
                  field_prefix=field_prefix)
    if _passes_on(cls):  # every component it builds gets the settings: each must take them
        for part in (cls.task_queue_class, cls.result_store_class, cls.event_store_class):
            if part is not None:
                _check_component_settings(part, settings, what=f"the {spec} backend",
                                          field_prefix=field_prefix)


def backend(spec: Any, *, project_name: str, secret_key: str | None = None,
            field_prefix: str = "", **settings: Any) -> Any:
    """A backend bundle from an object or a type name (None if the type has no bundle).

    ``field_prefix`` names where ``settings`` came from in error messages
    (``"task_queue.config."`` when they were a config file's component options).
    """
    if spec is None:
        return None
    if not isinstance(spec, str):
        return as_async(spec)
    try:
        cls: Any = plugins.resolve("backend", spec)
    except LookupError:
        plugins.lookup("task_queue", spec)  # raises the install hint if nothing provides it
        return None
    check_backend_settings(cls, spec, settings, field_prefix=field_prefix)
    options = {"project_name": project_name, **settings}
    if secret_key:
        options["secret_key"] = secret_key
    return cls(**options)
