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

# Our own plugin distributions, so a missing one is named with the extra that installs it.
# Keys are type names and URL schemes; values are extras of the `omniq` distribution.
_OUR_NAMES: dict[str, str] = {
    "sqlite": "sqlite",
    "postgres": "postgres",
    "postgresql": "postgres",
    "redis": "redis",
    "rediss": "redis",
    "nats": "nats",
    "file": "file",
    "fsspec": "file",
    "s3": "cloud",
    "s3a": "cloud",
    "gs": "cloud",
    "gcs": "cloud",
    "abfs": "cloud",
    "abfss": "cloud",
    "az": "cloud",
    "gevent": "gevent",
}
_STORE_KINDS = frozenset({"task_queue", "result_store", "event_store", "backend"})
_EXTRA_KINDS: dict[str, frozenset[str]] = {"gevent": frozenset({"worker"})}
_EXTRA_DISTRIBUTION: dict[str, str] = {
    "sqlite": "omniq-sqlite",
    "postgres": "omniq-postgres",
    "redis": "omniq-redis",
    "nats": "omniq-nats",
    "file": "omniq-fsspec",
    "cloud": "omniq-fsspec",
    "gevent": "omniq-gevent",
}
# Extras of our distribution that bring a scheme's driver (s3fs for s3://, ...).
_DRIVER_EXTRAS: dict[str, str] = {"cloud": "s3,gcs,azure"}
OUR_DISTRIBUTIONS = frozenset(_EXTRA_DISTRIBUTION.values())

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
    extra = _OUR_NAMES.get(name.strip().lower())
    if extra is None or kind not in _EXTRA_KINDS.get(extra, _STORE_KINDS):
        return None
    return distribution_hint(_EXTRA_DISTRIBUTION[extra], _DRIVER_EXTRAS.get(extra))


def export_hint(name: str) -> str | None:
    """Guess the plugin of a class name from its prefix (``SQLiteTaskQueue`` -> sqlite)."""
    base = name.removeprefix("Async")
    for prefix, extra in _EXPORT_PREFIXES:
        if base.startswith(prefix):
            return distribution_hint(_EXTRA_DISTRIBUTION[extra], _DRIVER_EXTRAS.get(extra))
    return None


def distribution_hint(distribution: str, extras: str | None = None) -> str:
    """How to install one of our plugin distributions, from the index or from a checkout."""
    if extras:
        spec = f"{distribution}[{extras}]"
        return (
            f'it is provided by the {distribution} plugin: pip install "{spec}" '
            f'(from a checkout of the OmniQ repository: pip install -e "./{spec}")'
        )
    return (
        f"it is provided by the {distribution} plugin: pip install {distribution} "
        f"(from a checkout of the OmniQ repository: pip install -e ./{distribution})"
    )


def scheme_of(url: str) -> str:
    """The lower-case scheme of a URL; ``"file"`` for a plain path (``/x``, ``C:\\x``)."""
    scheme, sep, _ = url.partition(":")
    if not sep or len(scheme) == 1 or not _SCHEME_RE.match(scheme):
        return "file"
    return scheme.lower()
