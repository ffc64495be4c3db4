"""Install hints and URL handling for plugin error messages.

A type name or class name that belongs to one of OmniQ's own plugin distributions is answered
with what installs that plugin: its own distribution (``pip install omniq-redis``, or from a
checkout of the repository ``pip install -e ./omniq-redis``), never an extra of ``omniq``: on
the public index that name belongs to an unrelated project. Anything else gets a plain "no
installed plugin provides it".
"""

from __future__ import annotations

import re

_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*\Z")
# Cloud URL schemes need the file backend's extras that bring their drivers (s3fs, ...).
_CLOUD = ("omniq-fsspec", "s3,gcs,azure")

#: Type names and URL schemes of our own plugins: the distribution that provides each, and
#: the extras it needs for that scheme.
_OUR_NAMES: dict[str, tuple[str, str | None]] = {
    "sqlite": ("omniq-sqlite", None),
    "postgres": ("omniq-postgres", None),
    "postgresql": ("omniq-postgres", None),
    "redis": ("omniq-redis", None),
    "rediss": ("omniq-redis", None),
    "nats": ("omniq-nats", None),
    "file": ("omniq-fsspec", None),
    "fsspec": ("omniq-fsspec", None),
    "gevent": ("omniq-gevent", None),  # the only worker type among them
    **dict.fromkeys(("s3", "s3a", "gs", "gcs", "abfs", "abfss", "az"), _CLOUD),
}
OUR_DISTRIBUTIONS = frozenset(distribution for distribution, _ in _OUR_NAMES.values())

# Class-name prefixes of our plugins' exports (after an optional "Async"), longest first.
_EXPORT_PREFIXES: tuple[tuple[str, str], ...] = (
    ("PostgreSQL", "postgres"),
    ("Postgres", "postgres"),
    ("SQLite", "sqlite"),
    ("Gevent", "gevent"),
    ("Redis", "redis"),
    ("NATS", "nats"),
    ("Nats", "nats"),
    ("File", "file"),
)


def install_hint(kind: str, name: str) -> str | None:
    """The ``pip install`` line for one of our type names or schemes, if it has one."""
    found = _OUR_NAMES.get(name.strip().lower())
    if found is None or (kind == "worker") != (found[0] == "omniq-gevent"):
        return None
    return distribution_hint(*found)


def export_hint(name: str) -> str | None:
    """Guess the plugin of a class name from its prefix (``SQLiteTaskQueue`` -> sqlite)."""
    base = name.removeprefix("Async")
    for prefix, type_name in _EXPORT_PREFIXES:
        if base.startswith(prefix):
            return distribution_hint(*_OUR_NAMES[type_name])
    return None


def distribution_hint(distribution: str, extras: str | None = None) -> str:
    """How to install one of our plugin distributions, from the index or from a checkout."""
    spec = f"{distribution}[{extras}]" if extras else distribution
    index, checkout = (f'"{spec}"', f'"./{spec}"') if extras else (spec, f"./{spec}")
    return (f"it is provided by the {distribution} plugin: pip install {index} "
            f"(from a checkout of the OmniQ repository: pip install -e {checkout})")


def scheme_of(url: str) -> str:
    """The lower-case scheme of a URL; ``"file"`` for a plain path (``/x``, ``C:\\x``)."""
    scheme, sep, _ = url.partition(":")
    if not sep or len(scheme) == 1 or not _SCHEME_RE.match(scheme):
        return "file"
    return scheme.lower()
