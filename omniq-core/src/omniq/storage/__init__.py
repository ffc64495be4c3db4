"""Result and event storage: contracts, the memory stores, and every plugin's classes by name
(``from omniq.storage import SQLiteResultStorage`` resolves through the plugin registry)."""

from __future__ import annotations

from .._facade import facade_getattr
from ._events import AsyncEventStorage, AsyncEventStore
from ._results import AsyncResultStorage, AsyncResultStore

__all__ = ["AsyncEventStorage", "AsyncEventStore", "AsyncResultStorage", "AsyncResultStore"]

__getattr__ = facade_getattr(__name__, globals())
