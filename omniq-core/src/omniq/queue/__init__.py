"""Task queues: the contract, the shared API, and every plugin's queue classes by name
(``from omniq.queue import SQLiteTaskQueue`` resolves through the plugin registry)."""

from __future__ import annotations

from .._facade import facade_getattr
from ._base import DEFAULT_QUEUE, AsyncTaskQueue
from ._scheduling import next_fire

__all__ = ["DEFAULT_QUEUE", "AsyncTaskQueue", "next_fire"]

__getattr__ = facade_getattr(__name__, globals())
