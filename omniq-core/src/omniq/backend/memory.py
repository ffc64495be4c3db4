"""The ``memory`` backend bundle."""

from __future__ import annotations

from ..queue.memory import AsyncMemoryTaskQueue
from ..storage.memory import AsyncMemoryEventStorage, AsyncMemoryResultStorage
from ..sync import Backend
from ._base import AsyncBackend


class AsyncMemoryBackend(AsyncBackend):
    """Queue, results and events in this process's memory."""

    task_queue_class = AsyncMemoryTaskQueue
    result_store_class = AsyncMemoryResultStorage
    event_store_class = AsyncMemoryEventStorage


class MemoryBackend(Backend, twin_of=AsyncMemoryBackend):
    """Blocking twin of :class:`AsyncMemoryBackend`."""


__all__ = ["AsyncMemoryBackend", "MemoryBackend"]
