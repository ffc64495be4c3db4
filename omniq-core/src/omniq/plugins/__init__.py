"""OmniQ's plugin registry: component type names resolved to classes through entry points.

A plugin distribution declares an entry point in the group ``omniq`` naming a module of
hookimpls (see :mod:`omniq.plugins._hookspecs` for the hooks); the core registers its own
``memory`` types and workers through the same hooks. Plugins are loaded once, on first use;
classes are imported only when resolved::

    from omniq.plugins import available, resolve, resolve_url

    resolve("task_queue", "PostgreSQL")          # by name or alias, any case
    resolve_url("result_store", "redis://h:6379/0")
    [t.name for t in available() if t.kind == "worker"]
"""

from __future__ import annotations

from omniq.plugins._hookspecs import KINDS, Register, hookimpl, hookspec
from omniq.plugins._lazy import lazy_exports
from omniq.plugins._lookup import (
    available,
    find_export,
    lookup,
    resolve,
    resolve_url,
    split_type,
)
from omniq.plugins._registry import PluginType, reset

__all__ = ["KINDS", "PluginType", "Register", "available", "find_export", "hookimpl", "hookspec",
           "lazy_exports", "lookup", "reset", "resolve", "resolve_url", "split_type"]
