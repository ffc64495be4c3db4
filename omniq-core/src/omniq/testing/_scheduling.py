"""``SchedulingTests``: the schedule primitives of the contract and the scheduling API built on
them: interval and cron schedules, max_runs, pause/resume without a burst,
coalesced missed fires, the overlap policy, concurrent schedulers firing each run once, and
schedule results.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import msgspec
import pytest

from .. import plugins
from .._ids import new_id
from ..exceptions import ConfigError, TaskTimeoutError
from ..models import EventType, Schedule, ScheduleStatus, ScheduleType, TaskStatus
from . import _support, _tasks
from ._support import KitBase, eventually, moment, running_worker

_replace = msgspec.structs.replace


def _schedule(queue: Any, **fields: Any) -> Schedule:
    template = queue.build_task(_tasks.noop)
    values: dict[str, Any] = {
        "id": new_id(), "func_name": template.func_name, "payload": template.payload,
        "schedule_type": ScheduleType.INTERVAL, "interval": 60.0, "created_at": moment(),
        "next_run_at": moment(), **fields}
    return Schedule(**values)


async def _tasks_of(queue: Any, schedule_id: str) -> list[Any]:
    return [t for t in await queue.list_tasks(limit=10_000) if t.schedule_id == schedule_id]


class SchedulingTests(KitBase):
    """Schedules (fixtures: ``task_queue``, and ``omniq`` for the end-to-end tests)."""

    # -- primitives ----------------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_add_and_get_schedule(self, task_queue: Any) -> None:
        sched = _schedule(task_queue, name="nightly", tags=["x"], max_runs=4)
        assert await task_queue.add_schedule(sched)
        assert not await task_queue.add_schedule(_replace(sched, name="other"))
        stored = await task_queue.get_schedule(sched.id)
        assert stored is not None
        for field in sched.__struct_fields__:
            assert getattr(stored, field) == getattr(sched, field), field
        assert await task_queue.get_schedule("no-such-schedule") is None

    @pytest.mark.anyio
    async def test_list_schedules_by_status(self, task_queue: Any) -> None:
        a, b, c = (_schedule(task_queue) for _ in range(3))
        b = _replace(b, status=ScheduleStatus.PAUSED)
        for sched in (c, a, b):
            await task_queue.add_schedule(sched)
        assert [s.id for s in await task_queue.list_schedules()] == [a.id, b.id, c.id]
        active = await task_queue.list_schedules(status=ScheduleStatus.ACTIVE)
        assert [s.id for s in active] == [a.id, c.id]
        paused = await task_queue.list_schedules(status=ScheduleStatus.PAUSED)
        assert [s.id for s in paused] == [b.id]

    @pytest.mark.anyio
    async def test_update_schedule_compares_and_sets_the_version(self, task_queue: Any) -> None:
        sched = _schedule(task_queue)
        await task_queue.add_schedule(sched)
        first = _replace(sched, run_count=1, version=1)
        assert await task_queue.update_schedule(first, expect_version=0)
        stale = _replace(sched, run_count=99, version=1)
        assert not await task_queue.update_schedule(stale, expect_version=0)
        stored = await task_queue.get_schedule(sched.id)
        assert stored.version == 1 and stored.run_count == 1
        ghost = _schedule(task_queue)
        assert not await task_queue.update_schedule(_replace(ghost, version=1), expect_version=0)
        assert await task_queue.get_schedule(ghost.id) is None

    @pytest.mark.anyio
    async def test_delete_schedule(self, task_queue: Any) -> None:
        sched = _schedule(task_queue)
        await task_queue.add_schedule(sched)
        assert await task_queue.delete_schedule(sched.id)
        assert not await task_queue.delete_schedule(sched.id)
        assert await task_queue.get_schedule(sched.id) is None
        assert await task_queue.list_schedules() == []

    @pytest.mark.anyio
    async def test_due_schedules(self, task_queue: Any) -> None:
        now = moment()
        due = [_schedule(task_queue, next_run_at=now - timedelta(seconds=s)) for s in (5, 1)]
        exact = _schedule(task_queue, next_run_at=now)
        future = _schedule(task_queue, next_run_at=now + timedelta(seconds=1))
        paused = _schedule(task_queue, next_run_at=now, status=ScheduleStatus.PAUSED)
        finished = _schedule(task_queue, next_run_at=None, status=ScheduleStatus.FINISHED)
        for sched in (*due, exact, future, paused, finished):
            await task_queue.add_schedule(sched)
        found = await task_queue.due_schedules(now)
        assert sorted(s.id for s in found) == sorted([due[0].id, due[1].id, exact.id])
        assert len(await task_queue.due_schedules(now, limit=2)) == 2
        later = await task_queue.due_schedules(now + timedelta(seconds=2))
        assert future.id in {s.id for s in later}

    # -- the scheduling API --------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_interval_schedule_with_max_runs(self, task_queue: Any) -> None:
        sid = await task_queue.schedule(_tasks.identity, 7, interval=timedelta(seconds=10),
                                        max_runs=3, name="every-10s")
        fired: list[str] = []
        for _ in range(3):
            sched = await task_queue.get_schedule(sid)
            assert sched.status == ScheduleStatus.ACTIVE
            fired += await task_queue.fire_due_schedules(sched.next_run_at)
            assert await task_queue.fire_due_schedules(sched.next_run_at) == []  # once
        sched = await task_queue.get_schedule(sid)
        assert sched.status == ScheduleStatus.FINISHED and sched.run_count == 3
        assert await task_queue.fire_due_schedules(moment() + timedelta(hours=1)) == []
        tasks = await _tasks_of(task_queue, sid)
        assert sorted(t.id for t in tasks) == sorted(fired) and len(set(fired)) == 3
        runs = sorted(t.run_at for t in tasks)
        assert [(b - a).total_seconds() for a, b in zip(runs[:-1], runs[1:], strict=True)] \
            == [10.0, 10.0]
        assert all(t.name == "every-10s" and t.status == TaskStatus.PENDING for t in tasks)
        call = task_queue.serializer.load_call(tasks[0].payload)
        assert call.args == (7,)

    @pytest.mark.anyio
    async def test_invalid_schedules_are_refused_at_schedule_time(self, task_queue: Any) -> None:
        bad: list[dict[str, Any]] = [
            {"cron_expression": "not a cron"},
            {"cron_expression": "61 * * * *"},
            {"interval": 0},
            {"interval": timedelta(seconds=-5)},
            {"interval": 10, "max_runs": 0},
            {"cron_expression": "0 9 * * *", "timezone": "Mars/Olympus_Mons"},
            {},
        ]
        for options in bad:
            with pytest.raises(ConfigError):
                await task_queue.schedule(_tasks.noop, **options)
        assert await task_queue.list_schedules() == []

    @pytest.mark.anyio
    async def test_cron_schedule_fires_at_cron_times_in_its_time_zone(
            self, task_queue: Any) -> None:
        now = moment()
        sid = await task_queue.schedule(_tasks.noop, cron_expression="*/5 * * * *")
        sched = await task_queue.get_schedule(sid)
        assert sched.schedule_type == ScheduleType.CRON
        assert sched.next_run_at > now and sched.next_run_at - now <= timedelta(minutes=5)
        assert sched.next_run_at.minute % 5 == 0 and sched.next_run_at.second == 0
        [task_id] = await task_queue.fire_due_schedules(sched.next_run_at)
        after = await task_queue.get_schedule(sid)
        assert after.next_run_at - sched.next_run_at == timedelta(minutes=5)
        assert (await task_queue.get_task(task_id)).schedule_id == sid
        berlin = await task_queue.schedule(_tasks.noop, cron="30 9 * * *",
                                           timezone="Europe/Berlin")
        local = (await task_queue.get_schedule(berlin)).next_run_at.astimezone(
            ZoneInfo("Europe/Berlin"))
        assert (local.hour, local.minute) == (9, 30)

    @pytest.mark.anyio
    async def test_cron_across_daylight_saving_changes(self, task_queue: Any) -> None:
        """The stated policy: a wall-clock time skipped by the spring jump fires at the first
        instant after the gap; a time repeated by the fall-back fires once."""
        utc = ZoneInfo("UTC")
        spring = await task_queue.schedule(_tasks.noop, cron_expression="30 2 * * *",
                                           timezone="Europe/Berlin",
                                           start_at=datetime(2030, 3, 30, 12, tzinfo=utc))
        first = (await task_queue.get_schedule(spring)).next_run_at
        assert first == datetime(2030, 3, 31, 1, 0, tzinfo=utc)  # 03:00 CEST, after the gap
        await task_queue.fire_due_schedules(first)
        assert (await task_queue.get_schedule(spring)).next_run_at == datetime(
            2030, 4, 1, 0, 30, tzinfo=utc)
        fall = await task_queue.schedule(_tasks.noop, cron_expression="30 2 * * *",
                                         timezone="Europe/Berlin",
                                         start_at=datetime(2030, 10, 26, 12, tzinfo=utc))
        first = (await task_queue.get_schedule(fall)).next_run_at
        assert first == datetime(2030, 10, 27, 0, 30, tzinfo=utc)  # 02:30 CEST
        await task_queue.fire_due_schedules(first)
        # Not again at 02:30 CET an hour later: the next day.
        assert (await task_queue.get_schedule(fall)).next_run_at == datetime(
            2030, 10, 28, 1, 30, tzinfo=utc)

    @pytest.mark.anyio
    async def test_schedule_ends_at_end_at(self, task_queue: Any) -> None:
        start = moment()
        sid = await task_queue.schedule(_tasks.noop, interval=10, start_at=start,
                                        end_at=start + timedelta(seconds=25),
                                        description="ends", tags=["t1", "t2"])
        for step in range(6):
            await task_queue.fire_due_schedules(start + timedelta(seconds=10 * step))
        sched = await task_queue.get_schedule(sid)
        assert sched.status == ScheduleStatus.FINISHED and sched.run_count == 3
        tasks = await _tasks_of(task_queue, sid)
        assert len(tasks) == 3
        assert all(t.description == "ends" and t.tags == ["t1", "t2"] for t in tasks)

    @pytest.mark.anyio
    async def test_run_at_schedule_fires_once(self, task_queue: Any) -> None:
        at = moment() + timedelta(minutes=10)
        sid = await task_queue.schedule(_tasks.noop, run_at=at)
        assert await task_queue.fire_due_schedules(moment()) == []
        assert len(await task_queue.fire_due_schedules(at)) == 1
        assert (await task_queue.get_schedule(sid)).status == ScheduleStatus.FINISHED
        assert await task_queue.fire_due_schedules(at + timedelta(days=1)) == []

    @pytest.mark.anyio
    async def test_missed_fires_are_coalesced_into_one(self, task_queue: Any) -> None:
        now = moment()
        sid = await task_queue.schedule(_tasks.noop, interval=1,
                                        start_at=now - timedelta(seconds=30))
        assert len(await task_queue.fire_due_schedules(now)) == 1
        sched = await task_queue.get_schedule(sid)
        assert sched.next_run_at > now
        assert await task_queue.fire_due_schedules(now) == []

    @pytest.mark.anyio
    async def test_pause_and_resume_continue_from_now_without_a_burst(
            self, omniq: Any) -> None:
        q, now = omniq.task_queue, moment()
        sid = await omniq.schedule(_tasks.noop, interval=2, start_at=now - timedelta(seconds=60))
        assert await omniq.pause_schedule(sid)
        assert not await omniq.pause_schedule(sid)  # already paused
        assert (await omniq.get_schedule(sid)).status == ScheduleStatus.PAUSED
        assert await q.fire_due_schedules(now + timedelta(seconds=10)) == []
        resumed_at = moment()
        assert await omniq.resume_schedule(sid)
        assert not await omniq.resume_schedule(sid)  # already active
        sched = await omniq.get_schedule(sid)
        assert sched.status == ScheduleStatus.ACTIVE
        assert sched.next_run_at >= resumed_at  # the 30 runs missed while paused are dropped
        assert await q.fire_due_schedules(resumed_at) == []
        assert len(await q.fire_due_schedules(sched.next_run_at)) == 1
        assert len(await _tasks_of(q, sid)) == 1
        events = await eventually(lambda: _schedule_events(omniq, sid, 2),
                                  what="pause/resume events")
        types = [e.type for e in events]
        assert EventType.SCHEDULE_PAUSED in types and EventType.SCHEDULE_RESUMED in types

    @pytest.mark.anyio
    async def test_pause_and_resume_before_the_first_run_keeps_that_run(
            self, omniq: Any) -> None:
        q = omniq.task_queue
        sid = await omniq.schedule(_tasks.noop, interval=3600)
        first_at = (await omniq.get_schedule(sid)).next_run_at
        assert await omniq.pause_schedule(sid)
        assert await omniq.resume_schedule(sid)
        resumed = await omniq.get_schedule(sid)
        # Due at once still, not an hour later: nothing ran yet, so nothing is made up.
        assert resumed.next_run_at - first_at < timedelta(seconds=5), resumed.next_run_at
        assert len(await q.fire_due_schedules(moment())) == 1
        assert (await omniq.get_schedule(sid)).next_run_at >= first_at + timedelta(hours=1)

    @pytest.mark.anyio
    async def test_no_overlap_skips_a_fire_while_the_last_run_is_unfinished(
            self, task_queue: Any) -> None:
        sid = await task_queue.schedule(_tasks.noop, interval=10, allow_overlap=False)
        first_at = (await task_queue.get_schedule(sid)).next_run_at
        [first] = await task_queue.fire_due_schedules(first_at)
        second_at = (await task_queue.get_schedule(sid)).next_run_at
        assert await task_queue.fire_due_schedules(second_at) == []  # first still pending
        [task] = await task_queue.claim(["default"], worker_id="kit", lease=60, now=second_at)
        assert task.id == first
        await task_queue.finish([(task_queue.completed(task, second_at), task.attempts)])
        third_at = (await task_queue.get_schedule(sid)).next_run_at
        assert third_at > second_at
        assert len(await task_queue.fire_due_schedules(third_at)) == 1

    @pytest.mark.anyio
    async def test_remove_schedule_through_the_api(self, omniq: Any) -> None:
        sid = await omniq.schedule(_tasks.noop, interval=5)
        assert [s.id for s in await omniq.list_schedules()] == [sid]
        assert await omniq.remove_schedule(sid)
        assert await omniq.get_schedule(sid) is None
        assert await omniq.task_queue.fire_due_schedules(moment() + timedelta(hours=1)) == []

    @pytest.mark.anyio
    async def test_concurrent_schedulers_fire_each_run_exactly_once(
            self, task_queue: Any) -> None:
        start = moment()
        ids = [await task_queue.schedule(_tasks.noop, interval=1, start_at=start, max_runs=8)
               for _ in range(5)]
        fired: list[str] = []

        async def scheduler() -> None:
            # Schedulers drift apart on a real store; a late one coalesces, so give them
            # steps enough for eight runs whatever the interleaving.
            for step in range(30):
                fired.extend(await task_queue.fire_due_schedules(
                    start + timedelta(seconds=step)))
                await anyio.sleep(0)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for _ in range(3):
                    tg.start_soon(scheduler)
        assert len(fired) == len(set(fired)), "a fire was reported by two schedulers"
        for sid in ids:
            sched = await task_queue.get_schedule(sid)
            tasks = await _tasks_of(task_queue, sid)
            assert sched.run_count == len(tasks) == 8
            assert sched.status == ScheduleStatus.FINISHED
        every = [t.id for sid in ids for t in await _tasks_of(task_queue, sid)]
        assert sorted(fired) == sorted(every)

    # -- end to end ----------------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_schedule_results_latest_and_all(self, omniq: Any) -> None:
        async with running_worker(omniq, "async"):
            sid = await omniq.schedule(_tasks.stamp, interval=0.1, max_runs=3)
            values = await eventually(
                lambda: _all_when(omniq, sid, 3), what="three schedule results")
        assert values == sorted(values)
        assert await omniq.get_result(schedule_id=sid, kind="latest") == values[-1]
        assert (await omniq.get_schedule(sid)).status == ScheduleStatus.FINISHED
        assert await omniq.get_result(schedule_id="no-such-schedule", kind="all") == []
        assert await omniq.get_result(schedule_id="no-such-schedule") is None

    @pytest.mark.anyio
    async def test_latest_schedule_result_waits_for_the_first_run(self, omniq: Any) -> None:
        sid = await omniq.schedule(_tasks.stamp, interval=3600, start_at=moment()
                                   + timedelta(seconds=0.5))
        async with running_worker(omniq, "async"):
            # Nothing has run yet: with a timeout, get_result waits for the first run.
            value = await omniq.get_result(schedule_id=sid, kind="latest", timeout=10)
        assert isinstance(value, float)
        other = await omniq.schedule(_tasks.stamp, interval=3600,
                                     start_at=moment() + timedelta(hours=1))
        with pytest.raises(TaskTimeoutError):
            await omniq.get_result(schedule_id=other, kind="latest", timeout=0.2)
        assert await omniq.get_result(schedule_id=other, kind="latest") is None

    @pytest.mark.anyio
    async def test_three_workers_fire_each_run_once(self, omniq: Any) -> None:
        worker_class = plugins.resolve("worker", "async")
        workers = [worker_class(omniq.task_queue, omniq.result_store, omniq.event_store,
                                **_support.FAST_WORKER) for _ in range(3)]
        try:
            for worker in workers:
                await worker.start()
            sid = await omniq.schedule(_tasks.stamp, interval=0.1, max_runs=5)
            await eventually(lambda: _all_when(omniq, sid, 5), what="five schedule results")
        finally:
            for worker in workers:
                await worker.stop(5)
        tasks = await _tasks_of(omniq.task_queue, sid)
        assert len(tasks) == 5 and all(t.status == TaskStatus.COMPLETED for t in tasks)
        assert all(t.attempts == 1 for t in tasks)
        assert len(await omniq.get_result(schedule_id=sid, kind="all")) == 5


async def _all_when(omniq: Any, sid: str, count: int) -> list[Any] | None:
    values = await omniq.get_result(schedule_id=sid, kind="all")
    return values if len(values) >= count else None


async def _schedule_events(omniq: Any, sid: str, count: int) -> list[Any] | None:
    events = await omniq.get_events(schedule_id=sid)
    found = [e for e in events if e.type in (EventType.SCHEDULE_PAUSED,
                                             EventType.SCHEDULE_RESUMED)]
    return events if len(found) >= count else None
