"""``EventStoreTests``: the event-store contract (``omniq/storage/_events.py``): batches
appended and queried by task, schedule, type and time range, in time order, and purged by
retention.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from .._ids import new_id
from ..models import EventType, TaskEvent
from ._support import KitBase, moment


def event(type_: EventType, at: datetime, *, task_id: str | None = None,
          schedule_id: str | None = None, **fields: Any) -> TaskEvent:
    return TaskEvent(id=new_id(), type=type_, timestamp=at, task_id=task_id,
                     schedule_id=schedule_id, **fields)


class EventStoreTests(KitBase):
    """The event store contract (fixture: ``event_store``)."""

    async def _story(self, event_store: Any) -> dict[str, Any]:
        """Two tasks (one from a schedule) over ten seconds, appended out of order."""
        t0 = moment() - timedelta(seconds=30)
        a, b, sid = new_id(), new_id(), new_id()
        s = timedelta(seconds=1)
        events = [
            event(EventType.ENQUEUED, t0, task_id=a, queue_name="q"),
            event(EventType.SCHEDULE_FIRED, t0 + s, task_id=b, schedule_id=sid),
            event(EventType.ENQUEUED, t0 + s, task_id=b, schedule_id=sid, queue_name="q"),
            event(EventType.EXECUTING, t0 + 2 * s, task_id=a, worker_id="w1", attempt=1),
            event(EventType.RETRY, t0 + 3 * s, task_id=a, attempt=1, message="ValueError: x",
                  data={"delay": 0.5, "attempt_failed": 1}),
            event(EventType.EXECUTING, t0 + 4 * s, task_id=b, schedule_id=sid, attempt=1),
            event(EventType.EXECUTING, t0 + 5 * s, task_id=a, attempt=2),
            event(EventType.COMPLETE, t0 + 6 * s, task_id=a, attempt=2, data={"duration": 1.5}),
            event(EventType.COMPLETE, t0 + 9 * s, task_id=b, schedule_id=sid),
        ]
        await event_store.append(events[5:])
        await event_store.append(events[:5])
        return {"t0": t0, "a": a, "b": b, "sid": sid, "events": events}

    @pytest.mark.anyio
    async def test_append_and_query_by_task(self, event_store: Any) -> None:
        story = await self._story(event_store)
        found = await event_store.query(task_id=story["a"])
        assert [e.type for e in found] == [EventType.ENQUEUED, EventType.EXECUTING,
                                           EventType.RETRY, EventType.EXECUTING,
                                           EventType.COMPLETE]
        retry = found[2]
        expected = story["events"][4]
        for field in TaskEvent.__struct_fields__:
            assert getattr(retry, field) == getattr(expected, field), field

    @pytest.mark.anyio
    async def test_query_by_schedule(self, event_store: Any) -> None:
        story = await self._story(event_store)
        found = await event_store.query(schedule_id=story["sid"])
        assert [e.type for e in found] == [EventType.SCHEDULE_FIRED, EventType.ENQUEUED,
                                           EventType.EXECUTING, EventType.COMPLETE]

    @pytest.mark.anyio
    async def test_query_by_type(self, event_store: Any) -> None:
        story = await self._story(event_store)
        executing = await event_store.query(type=EventType.EXECUTING)
        assert [e.id for e in executing] == [e.id for e in story["events"]
                                             if e.type == EventType.EXECUTING]
        assert [e.id for e in await event_store.query(type="COMPLETE")] == [
            e.id for e in story["events"] if e.type == EventType.COMPLETE]
        assert await event_store.query(type=EventType.EXPIRED) == []

    @pytest.mark.anyio
    async def test_query_by_time_range(self, event_store: Any) -> None:
        story = await self._story(event_store)
        t0, s = story["t0"], timedelta(seconds=1)
        window = await event_store.query(since=t0 + 2 * s, until=t0 + 5 * s)
        assert [e.timestamp for e in window] == [t0 + 2 * s, t0 + 3 * s, t0 + 4 * s, t0 + 5 * s]
        assert len(await event_store.query(since=t0 + 6 * s)) == 2
        assert len(await event_store.query(until=t0)) == 1

    @pytest.mark.anyio
    async def test_filters_combine(self, event_store: Any) -> None:
        story = await self._story(event_store)
        t0 = story["t0"]
        found = await event_store.query(task_id=story["a"], type=EventType.EXECUTING,
                                        since=t0 + timedelta(seconds=3))
        assert [e.attempt for e in found] == [2]
        assert await event_store.query(task_id=story["b"], type=EventType.RETRY) == []

    @pytest.mark.anyio
    async def test_results_are_in_time_order_and_limited(self, event_store: Any) -> None:
        story = await self._story(event_store)
        everything = await event_store.query()
        assert [e.id for e in everything] == [e.id for e in sorted(
            story["events"], key=lambda e: (e.timestamp, e.id))]
        assert [e.id for e in await event_store.query(limit=3)] == [e.id for e in everything[:3]]

    @pytest.mark.anyio
    async def test_query_of_nothing_is_empty(self, event_store: Any) -> None:
        assert await event_store.query(task_id="no-such-task") == []
        await event_store.append([])
        assert await event_store.query() == []

    @pytest.mark.anyio
    async def test_a_large_batch(self, event_store: Any) -> None:
        task_id, t0, size = new_id(), moment(), self.sized(1000)
        batch = [event(EventType.PROGRESS, t0 + timedelta(milliseconds=i), task_id=task_id,
                       data={"i": i}) for i in range(size)]
        await event_store.append(batch)
        found = await event_store.query(task_id=task_id, limit=5000)
        assert [e.data["i"] for e in found] == list(range(size))

    @pytest.mark.anyio
    async def test_purge_removes_events_older_than_retention(self, event_store: Any) -> None:
        story = await self._story(event_store)
        cutoff = story["t0"] + timedelta(seconds=4)
        assert await event_store.purge(cutoff) == 5
        remaining = await event_store.query()
        assert [e.timestamp for e in remaining] == [e.timestamp for e in story["events"]
                                                    if e.timestamp >= cutoff]
        assert await event_store.purge(cutoff) == 0
