"""The plugin registry: type names to classes, built once from the ``omniq`` entry points.

One :class:`pluggy.PluginManager` is built on first use (thread-safe): it loads the core's own
``omniq._builtin_plugins`` and every entry point of the group ``omniq``, and asks each plugin's
registration hooks for its types. Nothing but the hookimpl modules is imported then; a type's
class is imported when :func:`resolve` first asks for it. An entry point that fails to import is
logged and skipped, so one broken third-party plugin cannot break the core; a plugin that does
load but is wrong (a misspelled hook, a name another distribution already registered) is an
error at load, naming the distributions involved.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import pluggy

from omniq.exceptions import ConfigError
from omniq.plugins._hookspecs import HOOK_OF_KIND, KINDS, PROJECT_NAME, OmniQHookSpecs

logger = logging.getLogger("omniq.plugins")

CORE_MODULE = "omniq._builtin_plugins"
CORE_DISTRIBUTION = "omniq"

_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*\Z")
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*\Z")
_TARGET_RE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*\Z")
_EXPORT_RE = re.compile(r"[A-Za-z_]\w*\Z")


class PluginType(msgspec.Struct, frozen=True):
    """One registered type, as :func:`available` lists it: what ``register`` was given (see
    :class:`~omniq.plugins.Register`), and the distribution (``"omniq"`` for the core) and
    version that registered it."""

    kind: str
    name: str
    target: str
    aliases: tuple[str, ...] = ()
    schemes: tuple[str, ...] = ()
    exports: tuple[str, ...] = ()
    distribution: str = CORE_DISTRIBUTION
    version: str = ""


def normalize_name(name: str) -> str:
    """Normalise a type name for lookup: case-insensitive, ``-`` and ``_`` alike."""
    return name.strip().lower().replace("-", "_")


def kind_label(kind: str) -> str:
    """``"task_queue"`` -> ``"task queue"``, for messages."""
    return kind.replace("_", " ")


class _Origin(msgspec.Struct, frozen=True):
    """Where a plugin came from, for error messages and :attr:`PluginType.distribution`."""

    distribution: str
    version: str
    entry_point: str

    def __str__(self) -> str:
        return f"{self.distribution} {self.version} (entry point {self.entry_point})"


def _as_names(
    value: Sequence[str], what: str, origin: _Origin, pattern: re.Pattern[str]
) -> tuple[str, ...]:
    # A bare string is a sequence too: aliases="thread" would register t, h, r, e, a, d.
    if isinstance(value, str) or not all(isinstance(v, str) and pattern.match(v) for v in value):
        raise ConfigError(f"plugin registered invalid {what}", value=value,
                          expected="a list of names", source=str(origin))
    return tuple(value)


class _Registry:
    """The immutable index built from every plugin's registrations (in registration order,
    each with the plugin it came from)."""

    def __init__(self, registered: Sequence[tuple[PluginType, _Origin]],
                 broken: Sequence[str] = ()) -> None:
        #: The plugins whose entry point failed to import, each with its error, for the
        #: message of a type not found (the type asked for may be one of theirs).
        self.broken = tuple(broken)
        origins = {id(t): origin for t, origin in registered}
        self.types = sorted((t for t, _ in registered),
                            key=lambda t: (KINDS.index(t.kind), t.name))
        self.by_name: dict[tuple[str, str], PluginType] = {}
        self.by_scheme: dict[tuple[str, str], PluginType] = {}
        self.exports: dict[str, tuple[PluginType, str]] = {}
        self.classes: dict[str, Any] = {}

        def clash(what: str, first: PluginType, second: PluginType) -> ConfigError:
            return ConfigError(f"{what} is registered twice: by {origins[id(first)]} as "
                               f"{first.target!r} and by {origins[id(second)]} as "
                               f"{second.target!r}; uninstall one of them")

        for t in self.types:
            for name in (t.name, *t.aliases):
                seen = self.by_name.setdefault((t.kind, normalize_name(name)), t)
                if seen is not t:
                    raise clash(f"{kind_label(t.kind)} type name {name!r}", seen, t)
            for scheme in t.schemes:
                seen = self.by_scheme.setdefault((t.kind, scheme.lower()), t)
                if seen is not t:
                    raise clash(f"{kind_label(t.kind)} URL scheme {scheme!r}", seen, t)
            module, _, qualname = t.target.partition(":")
            for export, attr in (
                (qualname.rpartition(".")[2], qualname),
                *((e, e) for e in t.exports),
            ):
                prev = self.exports.setdefault(export, (t, attr))
                # The same class reached through two registrations of one module is fine.
                if prev[0].target.partition(":")[0] != module:
                    raise clash(f"exported class name {export!r}", prev[0], t)

    def names(self, kind: str) -> str:
        shown = [t.name + (f" ({', '.join(t.aliases)})" if t.aliases else "")
                 for t in self.types if t.kind == kind]
        return ", ".join(shown) or "none"


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    """The installed entry points of the group ``omniq`` (a seam tests narrow)."""
    return list(importlib.metadata.entry_points(group=PROJECT_NAME))


#: The entry point groups OmniQ reads: plugins, and the ``omniq`` command's subcommands.
_GROUPS_READ = (PROJECT_NAME, "omniq.commands")


def misplaced_entry_points() -> list[str]:
    """Entry points in a group that looks meant for OmniQ but is not ``omniq``
    (``omniq.plugins``, ``omniq_backends``): they are never read, and a plugin declared there
    looks installed yet provides nothing."""
    found = []
    for dist in importlib.metadata.distributions():
        for ep in dist.entry_points:
            group = ep.group.lower()
            if group.startswith(PROJECT_NAME) and group not in _GROUPS_READ:
                found.append(f"{dist.name} declares {ep.name} = {ep.value} in the entry point "
                             f"group {ep.group!r}, which OmniQ does not read (it reads "
                             f"{PROJECT_NAME!r})")
    return found


def _core_version() -> str:
    try:
        return importlib.metadata.version(CORE_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def _register_plugin(pm: pluggy.PluginManager, plugin: object, name: str, origin: _Origin) -> None:
    try:
        pm.register(plugin, name=name)
        # Checked per plugin so the error names the distribution with the misspelled hook.
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise ConfigError(f"plugin is invalid: {exc}", source=str(origin)) from exc


def _load() -> _Registry:
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(OmniQHookSpecs)
    origins: dict[str, _Origin] = {}
    broken: list[str] = []

    core = importlib.import_module(CORE_MODULE)
    core_name = f"{CORE_DISTRIBUTION}:core"
    origins[core_name] = _Origin(CORE_DISTRIBUTION, _core_version(), f"core = {CORE_MODULE}")
    _register_plugin(pm, core, core_name, origins[core_name])

    for ep in _entry_points():
        dist = ep.dist
        dist_name = dist.name if dist is not None else "<unknown distribution>"
        version = dist.version if dist is not None else "?"
        name = f"{dist_name}:{ep.name}"
        if pm.has_plugin(name) or pm.is_blocked(name):
            continue
        origin = _Origin(dist_name, version, f"{ep.name} = {ep.value}")
        try:
            plugin = ep.load()
        except Exception as exc:
            # Logged and remembered, not raised: a plugin whose import fails (a missing
            # dependency, a broken install) must not take down the core and every other
            # plugin with it. A lookup that finds no type names it.
            logger.warning("OmniQ plugin %s failed to import and is skipped", origin, exc_info=True)
            broken.append(f"{origin} failed to import ({type(exc).__name__}: {exc})")
            continue
        if pm.is_registered(plugin):
            continue
        origins[name] = origin
        _register_plugin(pm, plugin, name, origin)

    registered: list[tuple[PluginType, _Origin]] = []
    for kind in KINDS:
        for impl in getattr(pm.hook, HOOK_OF_KIND[kind]).get_hookimpls():
            origin = origins[impl.plugin_name]
            register = _make_register(kind, origin, registered)
            try:
                impl.function(**{arg: register for arg in impl.argnames})
            except ConfigError:
                raise
            except Exception as exc:
                raise ConfigError(f"plugin failed in {HOOK_OF_KIND[kind]}: {exc!r}",
                                  source=str(origin)) from exc
    return _Registry(registered, broken)


def _make_register(kind: str, origin: _Origin,
                   registered: list[tuple[PluginType, _Origin]]) -> Callable[..., None]:
    """The ``register`` callable handed to one plugin's hook of ``kind``; a name registered
    twice is refused when the registry is indexed."""

    def register(name: str, target: str, *, aliases: Sequence[str] = (),
                 schemes: Sequence[str] = (), exports: Sequence[str] = ()) -> None:
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ConfigError(f"plugin registered an invalid {kind_label(kind)} type name",
                              value=name, expected="letters, digits, '_', '-' or '.'",
                              source=str(origin))
        if not isinstance(target, str) or not _TARGET_RE.match(target):
            raise ConfigError(f"plugin registered {kind_label(kind)} {name!r} with an invalid "
                              "target", value=target, expected='"module:Class"',
                              source=str(origin))
        registered.append((PluginType(
            kind=kind, name=name, target=target,
            aliases=_as_names(aliases, "aliases", origin, _NAME_RE),
            schemes=tuple(s.lower() for s in _as_names(schemes, "schemes", origin, _SCHEME_RE)),
            exports=_as_names(exports, "exports", origin, _EXPORT_RE),
            distribution=origin.distribution, version=origin.version), origin))

    return register


_lock = threading.Lock()
_state: _Registry | None = None


def get_registry() -> _Registry:
    """The registry, loading every plugin on the first call (once, even under threads)."""
    global _state
    state = _state
    if state is None:
        with _lock:
            if _state is None:
                _state = _load()
            state = _state
    return state


def reset() -> None:
    """Forget the loaded plugins; the next call loads them again (for tests)."""
    global _state
    with _lock:
        _state = None
