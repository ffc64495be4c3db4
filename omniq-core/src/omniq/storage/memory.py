"""In-process ``memory`` result and event stores."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime

import msgspec

from .._time import utcnow
from .._waker import Waker
from ..models import EventType, TaskEvent
from ..sync import EventStore, ResultStore
from ._events import AsyncEventStore
from ._results import AsyncResultStore


class MemoryResultStoreConfig(msgspec.Struct, kw_only=True):
    project_name: str | None = None


class AsyncMemoryResultStore(AsyncResultStore):
    """Results in this process's memory, expired lazily on read and by ``purge``."""

    config_class = MemoryResultStoreConfig

    def __init__(self, *, project_name: str | None = None, secret_key: str | None = None) -> None:
        super().__init__(project_name=project_name, secret_key=secret_key)
        self._lock = threading.Lock()
        self._blobs: dict[str, tuple[bytes, datetime | None, str | None, datetime]] = {}
        self._waker = Waker()

    async def put_blob(self, task_id: str, blob: bytes, *, expires_at: datetime | None,
                       schedule_id: str | None, finished_at: datetime) -> None:
        with self._lock:
            self._blobs[task_id] = (blob, expires_at, schedule_id, finished_at)
        self._waker.notify(task_id)

    async def get_blob(self, task_id: str) -> bytes | None:
        entry = self._blobs.get(task_id)
        if entry is None:
            return None
        if entry[1] is not None and entry[1] <= utcnow():
            await self.delete_blob(task_id)
            return None
        return entry[0]

    async def wait_blob(self, task_id: str, timeout: float, poll_interval: float) -> bytes | None:
        deadline = utcnow().timestamp() + timeout
        while True:
            blob = await self.get_blob(task_id)
            remaining = deadline - utcnow().timestamp()
            if blob is not None or remaining <= 0:
                return blob
            await self._waker.wait(task_id, min(remaining, 1.0))

    async def schedule_blobs(self, schedule_id: str, *, latest_only: bool) -> list[bytes]:
        now = utcnow()
        with self._lock:
            found = sorted((e for e in self._blobs.values()
                            if e[2] == schedule_id and (e[1] is None or e[1] > now)),
                           key=lambda e: e[3])
        blobs = [e[0] for e in found]
        return blobs[-1:] if latest_only else blobs

    async def delete_blob(self, task_id: str) -> bool:
        with self._lock:
            return self._blobs.pop(task_id, None) is not None

    async def purge_expired(self, now: datetime) -> int:
        with self._lock:
            gone = [k for k, e in self._blobs.items() if e[1] is not None and e[1] <= now]
            for key in gone:
                del self._blobs[key]
        return len(gone)


class MemoryEventStoreConfig(msgspec.Struct, kw_only=True):
    project_name: str | None = None


class AsyncMemoryEventStore(AsyncEventStore):
    """Events in this process's memory."""

    config_class = MemoryEventStoreConfig

    def __init__(self, *, project_name: str | None = None, secret_key: str | None = None) -> None:
        super().__init__(project_name=project_name, secret_key=secret_key)
        self._lock = threading.Lock()
        self._events: list[TaskEvent] = []

    async def append(self, events: Sequence[TaskEvent]) -> None:
        with self._lock:
            self._events.extend(events)

    async def query(self, *, task_id: str | None = None, schedule_id: str | None = None,
                    type: EventType | str | None = None, since: datetime | None = None,
                    until: datetime | None = None, limit: int = 1000) -> list[TaskEvent]:
        wanted = EventType(type) if type is not None else None
        with self._lock:
            found = [e for e in self._events
                     if (task_id is None or e.task_id == task_id)
                     and (schedule_id is None or e.schedule_id == schedule_id)
                     and (wanted is None or e.type == wanted)
                     and (since is None or e.timestamp >= since)
                     and (until is None or e.timestamp <= until)]
        found.sort(key=lambda e: (e.timestamp, e.id))
        return found[:limit]

    async def purge(self, before: datetime) -> int:
        with self._lock:
            kept = [e for e in self._events if e.timestamp >= before]
            removed = len(self._events) - len(kept)
            self._events = kept
        return removed


class MemoryResultStore(ResultStore, twin_of=AsyncMemoryResultStore):
    """Blocking twin of :class:`AsyncMemoryResultStore`."""


class MemoryEventStore(EventStore, twin_of=AsyncMemoryEventStore):
    """Blocking twin of :class:`AsyncMemoryEventStore`."""


__all__ = [
    "AsyncMemoryEventStore",
    "AsyncMemoryResultStore",
    "MemoryEventStore",
    "MemoryEventStoreConfig",
    "MemoryResultStore",
    "MemoryResultStoreConfig",
]
