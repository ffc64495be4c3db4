"""Result and event storage: contracts, the memory stores, and every plugin's classes by name
(``from omniq.storage import SQLiteResultStore`` resolves through the plugin registry)."""

from __future__ import annotations

from .._facade import facade_getattr
from ._events import AsyncEventStore
from ._results import AsyncResultStore

__all__ = ["AsyncEventStore", "AsyncResultStore"]

__getattr__ = facade_getattr(__name__, globals())
