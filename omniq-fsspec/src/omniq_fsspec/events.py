"""``AsyncFileEventStore``: task events as JSON files, one per event.

Layout under ``<location>/<project>/``: ``events/<YYYY-MM-DD>/<time>_<event id>.json`` (a
folder per UTC day, names in time order, ties by id), plus a copy of each event under
``events_by_task/<task id>/`` and ``events_by_schedule/<schedule id>/``, so a query by task or
schedule reads only its own events and a query by time only the days it spans. The files are
plain JSON, for any tool to read. Events need no conditional writes, so any fsspec store works.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import msgspec
from omniq.models import EventType, TaskEvent
from omniq.storage import AsyncEventStore
from omniq.sync import EventStore

from ._config import _FileLocationConfig
from ._keys import micros, safe_name
from ._located import FileLocated
from ._stores import Store

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(TaskEvent).decode


class FileEventStoreConfig(_FileLocationConfig, kw_only=True):
    """Settings of :class:`FileEventStore`."""


class AsyncFileEventStore(FileLocated, AsyncEventStore):
    """Task lifecycle events as JSON files in a folder of any fsspec store.

    Args:
        project_name: Name of this project's folder under the location.
        url: The location as a URL (``file:///abs/dir``, ``memory://``, ``s3://bucket/p``,
            ``gs://...``, ``abfs://...``).
        base_dir: The location as a directory or URL; default: the ``FSSPEC_URI`` setting,
            else ``BASE_DIR``.
        storage_options: Passed to the fsspec filesystem.
        secret_key: Unused by events (plain data); accepted like every component.
    """

    config_class = FileEventStoreConfig

    async def append(self, events: Sequence[TaskEvent]) -> None:
        if events:
            await self._run_batch(_append, list(events))

    async def query(self, *, task_id: str | None = None, schedule_id: str | None = None,
                    type: EventType | str | None = None, since: datetime | None = None,
                    until: datetime | None = None, limit: int = 1000) -> list[TaskEvent]:
        wanted = None if type is None else EventType(type)

        def keep(event: TaskEvent) -> bool:
            return ((task_id is None or event.task_id == task_id)
                    and (schedule_id is None or event.schedule_id == schedule_id)
                    and (wanted is None or event.type == wanted)
                    and (since is None or event.timestamp >= since)
                    and (until is None or event.timestamp <= until))

        if task_id is not None:
            folders = [f"events_by_task/{safe_name(task_id)}"]
        elif schedule_id is not None:
            folders = [f"events_by_schedule/{safe_name(schedule_id)}"]
        else:
            folders = None
        return await self._run(_query, folders, since, until, keep, limit)

    async def purge(self, before: datetime) -> int:
        return await self._run(_purge, before)


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def _keys(event: TaskEvent) -> list[str]:
    name = f"{micros(event.timestamp)}_{safe_name(event.id)}.json"
    keys = [f"events/{_day(event.timestamp)}/{name}"]
    if event.task_id is not None:
        keys.append(f"events_by_task/{safe_name(event.task_id)}/{name}")
    if event.schedule_id is not None:
        keys.append(f"events_by_schedule/{safe_name(event.schedule_id)}/{name}")
    return keys


def _append(store: Store, events: list[TaskEvent]) -> list[None]:
    for event in events:
        data = _encode(event)
        for key in _keys(event):  # an event id written twice is stored once (same names)
            store.put(key, data)
    return []  # nothing to answer (a list, for _run_batch)


def _query(store: Store, folders: list[str] | None, since: datetime | None,
           until: datetime | None, keep: object, limit: int) -> list[TaskEvent]:
    if folders is None:
        days = store.names("events")
        first = None if since is None else _day(since)
        last = None if until is None else _day(until)
        folders = [f"events/{d}" for d in days
                   if (first is None or d >= first) and (last is None or d <= last)]
    found: list[TaskEvent] = []
    for folder in folders:
        for name in store.names(folder):
            got = store.read(f"{folder}/{name}")
            if got is None:
                continue
            event = _decode(got[0])
            if keep(event):  # type: ignore[operator]
                found.append(event)
                if len(found) >= limit:
                    return found
    return found


def _purge(store: Store, before: datetime) -> int:
    removed = 0
    cutoff, last_day = micros(before), _day(before)
    for day in store.names("events"):
        if day > last_day:
            break
        for name in store.names(f"events/{day}"):
            if name[:20] >= cutoff:
                break
            got = store.read(f"events/{day}/{name}")
            if got is None:
                continue
            for key in _keys(_decode(got[0])):
                store.delete(key)
            removed += 1
    return removed


class FileEventStore(EventStore, twin_of=AsyncFileEventStore):
    """Blocking twin of :class:`AsyncFileEventStore`."""


__all__ = ["AsyncFileEventStore", "FileEventStore", "FileEventStoreConfig"]
