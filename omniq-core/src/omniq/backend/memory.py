"""The ``memory`` backend bundle."""

from __future__ import annotations

import msgspec

from ..queue.memory import AsyncMemoryTaskQueue
from ..storage.memory import AsyncMemoryEventStore, AsyncMemoryResultStore
from ..sync import Backend
from ._base import AsyncBackend


class MemoryBackendConfig(msgspec.Struct, kw_only=True):
    project_name: str | None = None


class AsyncMemoryBackend(AsyncBackend):
    """Queue, results and events in this process's memory."""

    config_class = MemoryBackendConfig
    task_queue_class = AsyncMemoryTaskQueue
    result_store_class = AsyncMemoryResultStore
    event_store_class = AsyncMemoryEventStore


class MemoryBackend(Backend, twin_of=AsyncMemoryBackend):
    """Blocking twin of :class:`AsyncMemoryBackend`."""


__all__ = ["AsyncMemoryBackend", "MemoryBackend", "MemoryBackendConfig"]
