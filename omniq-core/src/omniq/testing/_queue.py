"""``TaskQueueTests``: the task-queue primitives of ``omniq/contract.py``, rule by rule.

Each test names the rule it checks. Times are passed explicitly (``claim(now=...)``), so eta
and lease rules are checked without waiting for the clock.
"""

from __future__ import annotations

import random
import time
from datetime import timedelta, timezone
from typing import Any

import anyio
import msgspec
import pytest

from ..models import TaskStatus
from ._stored import StoredTaskTests
from ._support import add, claim_ids, make_task, moment

_replace = msgspec.structs.replace


class TaskQueueTests(StoredTaskTests):
    """The storage primitives every task queue implements (fixture: ``task_queue``): adding,
    idempotent and bulk enqueue, claim (what, in which order, atomically) here; updates,
    listing, leases and the dependency index in :class:`StoredTaskTests`."""

    # -- add_tasks / get_task ------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_add_tasks_stores_whole_tasks(self, task_queue: Any) -> None:
        task = make_task(task_queue, queue_name="q1", name="n", description="d", tags=["a", "b"],
                         priority=3, ttl=60, result_ttl=30, max_retries=2, retry_delay=0.5,
                         timeout=9)
        await add(task_queue, task)
        stored = await task_queue.get_task(task.id)
        assert stored is not None
        for field in task.__struct_fields__:
            assert getattr(stored, field) == getattr(task, field), field

    @pytest.mark.anyio
    async def test_get_task_of_unknown_id_is_none(self, task_queue: Any) -> None:
        assert await task_queue.get_task("no-such-task") is None

    @pytest.mark.anyio
    async def test_add_tasks_is_idempotent_per_id(self, task_queue: Any) -> None:
        first = make_task(task_queue, priority=1)
        await add(task_queue, first)
        again = _replace(first, priority=9, name="changed")
        other = make_task(task_queue)
        assert await task_queue.add_tasks([again, other]) == [False, True]
        stored = await task_queue.get_task(first.id)
        assert stored is not None and stored.priority == 1 and stored.name is None
        assert await task_queue.count_tasks() == 2

    @pytest.mark.anyio
    async def test_enqueue_of_an_existing_id_returns_it_and_changes_nothing(
            self, task_queue: Any) -> None:
        from . import _tasks

        task_id = await task_queue.enqueue(_tasks.add, 1, 2, priority=1)
        assert await task_queue.enqueue(_tasks.add, 5, 5, task_id=task_id, priority=7) == task_id
        stored = await task_queue.get_task(task_id)
        assert stored is not None and stored.priority == 1
        assert task_queue.serializer.load_call(stored.payload).args == (1, 2)
        # Even once it runs: a second enqueue never resets a claimed task.
        claimed = await claim_ids(task_queue, ["default"], moment())
        assert claimed == [task_id]
        assert await task_queue.enqueue(_tasks.add, 1, 2, task_id=task_id) == task_id
        stored = await task_queue.get_task(task_id)
        assert stored is not None and stored.status == TaskStatus.RUNNING and stored.attempts == 1
        assert await task_queue.count_tasks() == 1

    # -- enqueue_many --------------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_enqueue_many_builds_one_task_per_item(self, task_queue: Any) -> None:
        from . import _tasks

        ids = await task_queue.enqueue_many(_tasks.noop, [(1, 2), {"a": 3, "b": 4}, 5],
                                            queue_name="bulk", priority=2)
        assert len(set(ids)) == 3
        calls = []
        for task_id in ids:
            task = await task_queue.get_task(task_id)
            assert task.queue_name == "bulk" and task.priority == 2
            call = task_queue.serializer.load_call(task.payload)
            calls.append((call.args, call.kwargs))
        assert calls == [((1, 2), {}), ((), {"a": 3, "b": 4}), ((5,), {})]

    @pytest.mark.anyio
    async def test_enqueue_many_in_one_call_is_quick(self, task_queue: Any) -> None:
        """1,000 tasks at ``volume`` 1, stored by one call within 10 s (scaled alike)."""
        from . import _tasks

        n = self.sized(1000)
        started = time.perf_counter()
        with anyio.fail_after(30):
            ids = await task_queue.enqueue_many(_tasks.identity, range(n), queue_name="bulk")
        elapsed = time.perf_counter() - started
        assert len(ids) == len(set(ids)) == n
        assert await task_queue.count_tasks(queue_name="bulk", status=TaskStatus.PENDING) == n
        # A sanity bound, not a benchmark: one bulk call must not cost a round trip per task
        # over a slow path (1,000 tasks well under 10 s even on a remote store).
        bound = 10 * n / 1000
        assert elapsed < bound, f"enqueue_many of {n:,} tasks took {elapsed:.1f} s"

    # -- claim: what is runnable ---------------------------------------------------------------
    @pytest.mark.anyio
    async def test_claim_leases_the_task(self, task_queue: Any) -> None:
        now = moment()
        task = make_task(task_queue, now=now - timedelta(seconds=1))
        await add(task_queue, task)
        [claimed] = await task_queue.claim(["default"], worker_id="w-1", lease=12.5, now=now)
        assert claimed.id == task.id
        for got in (claimed, await task_queue.get_task(task.id)):
            assert got.status == TaskStatus.RUNNING
            assert got.attempts == 1
            assert got.worker_id == "w-1"
            assert abs((got.started_at - now).total_seconds()) < 0.002
            assert abs((got.lease_expires_at - (now + timedelta(seconds=12.5))).total_seconds()) \
                < 0.002
            assert got.payload == task.payload
        assert await task_queue.claim(["default"], worker_id="w-2", lease=5, now=now) == []

    @pytest.mark.anyio
    async def test_claim_of_an_empty_queue_returns_nothing(self, task_queue: Any) -> None:
        assert await claim_ids(task_queue, ["default", "other"], moment(), limit=10) == []

    @pytest.mark.anyio
    async def test_eta_task_is_not_claimable_before_run_at(self, task_queue: Any) -> None:
        now = moment()
        task = make_task(task_queue, now=now, delay=60)
        await add(task_queue, task)
        assert await claim_ids(task_queue, ["default"], now) == []
        assert await claim_ids(task_queue, ["default"], now + timedelta(seconds=59.9)) == []
        assert await claim_ids(task_queue, ["default"], now + timedelta(seconds=60)) == [task.id]

    @pytest.mark.anyio
    async def test_eta_task_is_claimable_after_run_at(self, task_queue: Any) -> None:
        now = moment()
        early, late = make_task(task_queue, now=now, delay=5), make_task(task_queue, now=now,
                                                                         delay=50)
        await add(task_queue, late, early)
        later = now + timedelta(seconds=10)
        assert await claim_ids(task_queue, ["default"], later, limit=5) == [early.id]
        assert await claim_ids(task_queue, ["default"], now + timedelta(hours=1), limit=5) \
            == [late.id]

    @pytest.mark.anyio
    async def test_times_compare_as_instants_whatever_their_zone(self, task_queue: Any) -> None:
        now = moment()
        east, west = timezone(timedelta(hours=5)), timezone(timedelta(hours=-7))
        # Due in 10 s, written in UTC+5; then asked about in UTC-7: instants, not wall times.
        task = _replace(make_task(task_queue, now=now), run_at=(now + timedelta(seconds=10))
                        .astimezone(east))
        await add(task_queue, task)
        assert await claim_ids(task_queue, ["default"], (now + timedelta(seconds=9))
                               .astimezone(west)) == []
        assert await claim_ids(task_queue, ["default"], (now + timedelta(seconds=10))
                               .astimezone(west)) == [task.id]
        assert await task_queue.expired_leases((now + timedelta(seconds=30)).astimezone(east)
                                               ) == []
        found = await task_queue.expired_leases((now + timedelta(seconds=41)).astimezone(west))
        assert [t.id for t in found] == [task.id]

    @pytest.mark.anyio
    async def test_claim_takes_pending_and_retrying_tasks_only(self, task_queue: Any) -> None:
        now = moment()
        by_status = {s: make_task(task_queue, now=now - timedelta(seconds=1)) for s in TaskStatus}
        await add(task_queue, *by_status.values())
        for status, task in by_status.items():
            if status != TaskStatus.PENDING:
                assert await task_queue.update_task(_replace(task, status=status),
                                                    expect_status={TaskStatus.PENDING})
        got = await claim_ids(task_queue, ["default"], now, limit=len(by_status))
        assert sorted(got) == sorted([by_status[TaskStatus.PENDING].id,
                                      by_status[TaskStatus.RETRYING].id])

    @pytest.mark.anyio
    async def test_claim_respects_limit(self, task_queue: Any) -> None:
        now = moment()
        tasks = [make_task(task_queue, now=now) for _ in range(7)]
        await add(task_queue, *tasks)
        first = await claim_ids(task_queue, ["default"], now, limit=3)
        second = await claim_ids(task_queue, ["default"], now, limit=10)
        assert first == [t.id for t in tasks[:3]]
        assert second == [t.id for t in tasks[3:]]

    @pytest.mark.anyio
    async def test_claim_serves_only_the_queues_named(self, task_queue: Any) -> None:
        now = moment()
        mine, other = make_task(task_queue, now=now, queue_name="mine"), make_task(
            task_queue, now=now, queue_name="other")
        await add(task_queue, mine, other)
        assert await claim_ids(task_queue, ["mine"], now, limit=5) == [mine.id]

    # -- claim: order --------------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_claim_order_follows_queue_list(self, task_queue: Any) -> None:
        now = moment()
        # Lower queues hold higher priorities and older tasks: queue position still wins.
        low = [make_task(task_queue, now=now - timedelta(seconds=9), queue_name="low",
                         priority=100) for _ in range(2)]
        medium = [make_task(task_queue, now=now - timedelta(seconds=5), queue_name="medium",
                            priority=50)]
        high = [make_task(task_queue, now=now, queue_name="high") for _ in range(2)]
        await add(task_queue, *low, *medium, *high)
        order = ["high", "medium", "low"]
        assert await claim_ids(task_queue, order, now, limit=3) == [
            high[0].id, high[1].id, medium[0].id]
        assert await claim_ids(task_queue, order, now) == [low[0].id]
        late_high = make_task(task_queue, now=now, queue_name="high")
        await add(task_queue, late_high)
        assert await claim_ids(task_queue, order, now, limit=5) == [late_high.id, low[1].id]

    @pytest.mark.anyio
    async def test_claim_order_within_a_queue_priority_then_eta_then_fifo(
            self, task_queue: Any) -> None:
        now = moment()
        t = timedelta(seconds=1)
        specs = [  # (priority, eta offset in seconds before now); inserted in this order
            (0, 1), (5, 1), (0, 3), (5, 2), (-1, 9), (0, 1), (5, 2),
        ]
        tasks = [make_task(task_queue, now=now - off * t, priority=p) for p, off in specs]
        shuffled = list(tasks)
        random.Random(7).shuffle(shuffled)
        await add(task_queue, *shuffled)  # insertion order must not matter, ids decide FIFO
        expected = sorted(tasks, key=lambda x: (-x.priority, x.run_at, x.id))
        got = []
        for limit in (2, 1, 3, 5):
            got += await claim_ids(task_queue, ["default"], now, limit=limit)
        assert got == [x.id for x in expected]

    @pytest.mark.anyio
    async def test_fifo_among_equal_tasks(self, task_queue: Any) -> None:
        now = moment()
        tasks = [make_task(task_queue, now=now) for _ in range(20)]
        await add(task_queue, *tasks)
        got = [i for _ in range(20) for i in await claim_ids(task_queue, ["default"], now)]
        assert got == [t.id for t in tasks]

    # -- claim: atomic under concurrency -------------------------------------------------------
    @pytest.mark.anyio
    async def test_concurrent_claimers_take_each_task_exactly_once(
            self, task_queue: Any) -> None:
        from . import _tasks

        tasks = self.sized(200)
        ids = await task_queue.enqueue_many(_tasks.identity, range(tasks), queue_name="race")
        claimed: list[str] = []
        rng = random.Random(3)

        async def claimer(n: int) -> None:
            limit = rng.randint(1, 5)
            while True:
                got = await task_queue.claim(["race"], worker_id=f"w{n}", lease=30,
                                             now=moment(), limit=limit)
                if not got:
                    return
                claimed.extend(t.id for t in got)
                await anyio.sleep(0)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for n in range(20):
                    tg.start_soon(claimer, n)
        assert len(claimed) == len(set(claimed)), "a task was handed to two claimers"
        assert sorted(claimed) == sorted(ids)
        assert await task_queue.count_tasks(queue_name="race", status=TaskStatus.RUNNING) == tasks
