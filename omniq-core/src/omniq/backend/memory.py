"""The ``memory`` backend bundle."""

from __future__ import annotations

from .._sync import make_sync
from ..queue.memory import AsyncMemoryTaskQueue
from ..storage.memory import AsyncMemoryEventStorage, AsyncMemoryResultStorage
from ._base import AsyncBackend


class AsyncMemoryBackend(AsyncBackend):
    """Queue, results and events in this process's memory."""

    task_queue_class = AsyncMemoryTaskQueue
    result_store_class = AsyncMemoryResultStorage
    event_store_class = AsyncMemoryEventStorage


MemoryBackend = make_sync(AsyncMemoryBackend, "MemoryBackend")

__all__ = ["AsyncMemoryBackend", "MemoryBackend"]
