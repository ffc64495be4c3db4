"""Looking types up: by name, by URL scheme, by exported class name.

Lookups read the registry that :mod:`omniq.plugins._registry` builds on first use; a class is
imported only when it is asked for, and cached. Every miss is a
:class:`~omniq.exceptions.PluginNotFoundError` that says what is installed and, for one of
OmniQ's own plugins, which distribution (``pip install omniq-redis``) provides the missing name.
"""

from __future__ import annotations

import difflib
import importlib
import re
import urllib.parse
from typing import Any

from omniq._aliases import canonical
from omniq.exceptions import ConfigError, PluginNotFoundError
from omniq.plugins._hints import OUR_DISTRIBUTIONS, export_hint, install_hint, scheme_of
from omniq.plugins._hookspecs import KINDS
from omniq.plugins._registry import (
    PluginType,
    get_registry,
    kind_label,
    misplaced_entry_points,
    normalize_name,
)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ConfigError("unknown plugin kind", field="kind", value=kind,
                          expected=f"one of {KINDS}")


def _import_attr(t: PluginType, attr: str) -> Any:
    """Import ``attr`` of ``t``'s module, turning a missing driver into an install hint."""
    module_name = t.target.partition(":")[0]
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        hint = None
        # Compared as PEP 503 names: some build backends write "omniq_sqlite".
        if re.sub(r"[-_.]+", "-", t.distribution).lower() in OUR_DISTRIBUTIONS:
            hint = install_hint(t.kind, t.name)
        hint = hint or f"check that {t.distribution} and its dependencies are installed"
        raise PluginNotFoundError(
            f"{kind_label(t.kind)} type {t.name!r} from {t.distribution} {t.version} could not "
            f"be imported ({module_name}:{attr}: {exc}); {hint}"
        ) from exc
    return obj


def _load_class(t: PluginType) -> type:
    registry = get_registry()
    cls = registry.classes.get(t.target)
    if cls is None:
        cls = _import_attr(t, t.target.partition(":")[2])
        if not isinstance(cls, type):
            raise PluginNotFoundError(
                f"{kind_label(t.kind)} type {t.name!r} from {t.distribution}: "
                f"{t.target} is not a class"
            )
        registry.classes[t.target] = cls
    return cls


def available() -> list[PluginType]:
    """Every installed type, sorted by kind then name (none of their classes imported)."""
    return list(get_registry().types)


def lookup(kind: str, name: str) -> PluginType:
    """The registration of a type name or alias (case-insensitive), without importing it; a
    PluginNotFoundError lists the installed names and, for one of ours, how to install it."""
    _check_kind(kind)
    registry = get_registry()
    t = registry.by_name.get((kind, normalize_name(name)))
    if t is None:
        label = kind_label(kind)
        hint = install_hint(kind, name) or f"no installed plugin provides a {label} named {name!r}"
        installed = registry.names(kind)
        close = _closest(name, [n for (k, n) in registry.by_name if k == kind])
        guess = f"did you mean {close!r}? " if close and not install_hint(kind, name) else ""
        raise PluginNotFoundError(
            f"unknown {label} type {name!r}; {guess}installed {label} types: {installed}; {hint}"
            + _plugins_that_may_be_meant(registry)
        )
    return t


def _plugins_that_may_be_meant(registry: Any) -> str:
    """The installed plugins that failed to load, or declared their entry point in the wrong
    group: a type not found may be one of theirs."""
    problems = [*registry.broken, *misplaced_entry_points()]
    return "".join(f"; note: {problem}" for problem in problems)


def _closest(name: str, names: list[str]) -> str | None:
    """The installed name a misspelling most likely meant (``reddis`` -> ``redis``)."""
    found = difflib.get_close_matches(normalize_name(name), names, n=1, cutoff=0.6)
    return found[0] if found else None


def resolve(kind: str, name: str) -> type:
    """The class registered for a type name or alias of ``kind`` (``"redis"``,
    ``"postgresql"``), imported now; PluginNotFoundError when the name is unknown (see
    :func:`lookup`) or the class cannot be imported (the ImportError chained)."""
    return _load_class(lookup(kind, name))


def _lookup_url(kind: str, url: str) -> PluginType:
    _check_kind(kind)
    registry = get_registry()
    scheme = scheme_of(url)
    if scheme == "file":
        _refuse_a_url_missing_its_slashes(kind, url, registry)
    else:
        _refuse_a_bad_port(url)
    # "postgresql+asyncpg" falls back to "postgresql".
    for candidate in (scheme, scheme.partition("+")[0]):
        t = registry.by_scheme.get((kind, candidate))
        if t is not None:
            return t
    # Imported here: omniq.config is heavier than the registry and only needed for this message.
    from omniq.config import redact_url

    label = kind_label(kind)
    schemes = sorted(s for (k, s) in registry.by_scheme if k == kind)
    hint = install_hint(kind, scheme.partition("+")[0]) or (
        f"no installed plugin provides a {label} for {scheme}:// URLs"
    )
    raise PluginNotFoundError(
        f"no installed {label} type handles the URL {redact_url(url)!r}; "
        f"schemes handled: {', '.join(schemes) or 'none'}; {hint}"
        + _plugins_that_may_be_meant(registry)
    )


_BROKEN_URL_RE = re.compile(r"([A-Za-z][\w+.-]*)(//|:/(?!/)|:(?=[^/\\]))")


def _refuse_a_url_missing_its_slashes(kind: str, url: str, registry: Any) -> None:
    """``postgresql//user:pw@host/db`` or ``redis:/host`` would otherwise be a file path: a
    directory named after the URL, password included, and tasks no server sees."""
    found = _BROKEN_URL_RE.match(url)
    if found is None or len(found[1]) == 1:  # C:\x, a Windows path
        return
    scheme = found[1].lower()
    if scheme != "file" and (kind, scheme) in registry.by_scheme:
        from omniq.config import redact_url

        raise ConfigError(f"this looks like a {scheme} URL without its '://'",
                          field="url", value=redact_url(url),
                          expected=f"{scheme}://..., or a path that does not start with "
                                   f"{found[0]!r}")


def _refuse_a_bad_port(url: str) -> None:
    """``redis://host:bad/0`` or ``:99999``: refused here, naming the URL, rather than as the
    driver's ValueError or OverflowError at the first call."""
    parts = urllib.parse.urlsplit(url)
    if "," in parts.netloc:  # several hosts (libpq's host1:5432,host2:5433): the driver's
        return
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number from 0 to 65535
    except ValueError as exc:
        from omniq.config import redact_url

        raise ConfigError(f"bad port in the URL: {exc}", field="url", value=redact_url(url),
                          expected="a port from 1 to 65535 (or none, for the default)"
                          ) from None


def resolve_url(kind: str, url: str) -> type:
    """The class whose registration claims the URL's scheme (a plain path is ``file``);
    PluginNotFoundError, with the URL's password redacted, as for :func:`resolve`."""
    return _load_class(_lookup_url(kind, url))


def split_type(kind: str, value: str) -> tuple[str, str | None]:
    """``(type_name, None)`` for a type name or alias, ``(type_name, value)`` for a URL or a
    path (config values may hold either), ``type_name`` being the registered name of the type
    that handles it; nothing is imported."""
    if ":" in value or "/" in value or "\\" in value:
        return _lookup_url(kind, value).name, value
    return lookup(kind, value).name, None


def find_export(name: str) -> Any:
    """A public class by its exported name (a type's target class, ``AsyncSQLiteTaskQueue``,
    or one of its ``exports``, ``SQLiteTaskQueue``), from whichever installed plugin exports
    it; the facade modules (``omniq.queue`` ...) resolve unknown attributes through this.
    PluginNotFoundError names the plugin to install when the prefix is one of ours."""
    exports = get_registry().exports
    hit = exports.get(name)
    if hit is None:
        other = canonical(name)  # another spelling (the seeds', an earlier release's)
        hit = exports.get(other) if other is not None else None
    if hit is None:
        hint = export_hint(name) or "no installed OmniQ plugin exports it"
        raise PluginNotFoundError(f"unknown OmniQ class {name!r}; {hint}")
    t, attr = hit
    return _import_attr(t, attr)
