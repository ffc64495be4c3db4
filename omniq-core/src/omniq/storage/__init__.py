"""Result and event storage: contracts, the memory stores, and every plugin's classes by name
(``from omniq.storage import SQLiteResultStorage`` resolves through the plugin registry)."""

from __future__ import annotations

from .._facade import facade_getattr
from ._events import AsyncEventStorage, EventStoreContract
from ._results import AsyncResultStorage, ResultStoreContract

__all__ = ["AsyncEventStorage", "AsyncResultStorage", "EventStoreContract",
           "ResultStoreContract"]

__getattr__ = facade_getattr(__name__, globals())
