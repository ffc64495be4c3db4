"""The second half of ``TaskQueueTests``: conditional updates (the fencing point), listing,
counting and deleting, lease expiry, the dependency index and waking idle workers.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio
import msgspec
import pytest

from ..models import ErrorInfo, TaskStatus
from ._support import KitBase, add, claim_ids, make_task, moment

_replace = msgspec.structs.replace


class StoredTaskTests(KitBase):
    """update_task, list/count/delete, expired_leases, dependents, wait_for_work
    (fixture: ``task_queue``); part of :class:`TaskQueueTests`."""

    # -- update_task: compare and set ----------------------------------------------------------
    @pytest.mark.anyio
    async def test_update_task_writes_when_status_matches(self, task_queue: Any) -> None:
        task = make_task(task_queue)
        await add(task_queue, task)
        changed = _replace(task, progress={"step": 2}, tags=["x"])
        assert await task_queue.update_task(changed, expect_status={TaskStatus.PENDING})
        stored = await task_queue.get_task(task.id)
        assert stored.progress == {"step": 2} and stored.tags == ["x"]

    @pytest.mark.anyio
    async def test_update_task_refuses_wrong_status_attempt_or_missing(
            self, task_queue: Any) -> None:
        task = make_task(task_queue)
        await add(task_queue, task)
        changed = _replace(task, status=TaskStatus.COMPLETED)
        assert not await task_queue.update_task(changed, expect_status={TaskStatus.RUNNING})
        assert not await task_queue.update_task(changed, expect_status={TaskStatus.PENDING},
                                                expect_attempts=1)
        ghost = make_task(task_queue)
        assert not await task_queue.update_task(ghost, expect_status=set(TaskStatus))
        stored = await task_queue.get_task(task.id)
        assert stored.status == TaskStatus.PENDING
        assert await task_queue.get_task(ghost.id) is None

    @pytest.mark.anyio
    async def test_finish_tasks_fences_each_task_by_its_attempt(self, task_queue: Any) -> None:
        from ..contract import Finished

        a, b, c = (make_task(task_queue) for _ in range(3))
        await add(task_queue, a, b, c)
        a, b, c = sorted(await task_queue.claim(["default"], worker_id="kit", lease=30,
                                                now=moment(), limit=3), key=lambda t: t.id)
        done = TaskStatus.COMPLETED
        outcomes = await task_queue.finish_tasks([
            (_replace(a, status=done), a.attempts),
            (_replace(b, status=done), b.attempts + 1),  # not the attempt it runs under
            (_replace(c, status=done), c.attempts),
        ])
        assert [bool(o) for o in outcomes] == [True, False, True]
        assert outcomes[1] == Finished.FENCED
        statuses = [(await task_queue.get_task(t.id)).status for t in (a, b, c)]
        assert statuses == [done, TaskStatus.RUNNING, done]

    @pytest.mark.anyio
    async def test_finish_tasks_never_hides_a_dependent(self, task_queue: Any) -> None:
        """WRITTEN (no dependents) would leave a waiting child stranded: only a task nobody
        depends on may be reported so."""
        from ..contract import Finished

        parent, lone = make_task(task_queue), make_task(task_queue)
        child = _replace(make_task(task_queue), depends_on=[parent.id],
                         status=TaskStatus.WAITING)
        await add(task_queue, parent, lone, child)
        claimed = await task_queue.claim(["default"], worker_id="kit", lease=30, now=moment(),
                                         limit=2)
        assert {t.id for t in claimed} == {parent.id, lone.id}
        outcomes = await task_queue.finish_tasks(
            [(_replace(t, status=TaskStatus.COMPLETED), t.attempts) for t in claimed])
        by_id = dict(zip([t.id for t in claimed], outcomes, strict=True))
        assert by_id[parent.id] == Finished.WRITTEN_WITH_DEPENDENTS
        assert by_id[lone.id] in (Finished.WRITTEN, Finished.WRITTEN_WITH_DEPENDENTS)

    @pytest.mark.anyio
    async def test_update_task_reindexes_run_at_and_priority(self, task_queue: Any) -> None:
        now = moment()
        first, second = make_task(task_queue, now=now), make_task(task_queue, now=now)
        await add(task_queue, first, second)
        # Deferring the first task (as a retry does) must take effect in claim.
        deferred = _replace(first, run_at=now + timedelta(seconds=30))
        assert await task_queue.update_task(deferred, expect_status={TaskStatus.PENDING})
        assert await claim_ids(task_queue, ["default"], now, limit=5) == [second.id]
        assert await claim_ids(task_queue, ["default"], now + timedelta(seconds=31)) == [first.id]
        # Raising the priority of a waiting task moves it ahead.
        x, y = make_task(task_queue, now=now), make_task(task_queue, now=now)
        await add(task_queue, x, y)
        assert await task_queue.update_task(_replace(y, priority=10),
                                            expect_status={TaskStatus.PENDING})
        assert await claim_ids(task_queue, ["default"], now, limit=2) == [y.id, x.id]

    @pytest.mark.anyio
    async def test_update_to_a_final_status_makes_a_task_unclaimable(
            self, task_queue: Any) -> None:
        now = moment()
        task = make_task(task_queue, now=now)
        await add(task_queue, task)
        assert await task_queue.update_task(_replace(task, status=TaskStatus.CANCELLED),
                                            expect_status={TaskStatus.PENDING})
        assert await claim_ids(task_queue, ["default"], now, limit=5) == []

    @pytest.mark.anyio
    async def test_a_claimed_task_put_back_pending_is_claimable_again(
            self, task_queue: Any) -> None:
        now = moment()
        task = make_task(task_queue, now=now)
        await add(task_queue, task)
        [claimed] = await task_queue.claim(["default"], worker_id="w", lease=30, now=now)
        back = _replace(claimed, status=TaskStatus.RETRYING, worker_id=None,
                        lease_expires_at=None, error=ErrorInfo("E", "m"))
        assert await task_queue.update_task(back, expect_status={TaskStatus.RUNNING},
                                            expect_attempts=1)
        [again] = await task_queue.claim(["default"], worker_id="w", lease=30, now=now)
        assert again.id == task.id and again.attempts == 2

    # -- list, count, delete -------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_list_and_count_by_queue_and_status(self, task_queue: Any) -> None:
        now = moment()
        a = [make_task(task_queue, now=now, queue_name="qa") for _ in range(4)]
        b = [make_task(task_queue, now=now, queue_name="qb") for _ in range(3)]
        await add(task_queue, *a, *b)
        await claim_ids(task_queue, ["qa"], now, limit=1)
        assert await task_queue.count_tasks() == 7
        assert await task_queue.count_tasks(queue_name="qa") == 4
        assert await task_queue.count_tasks(queue_name="qa", status=TaskStatus.RUNNING) == 1
        assert await task_queue.count_tasks(status=TaskStatus.PENDING) == 6
        assert await task_queue.count_tasks(queue_name="nope") == 0
        listed = await task_queue.list_tasks(queue_name="qa", status=TaskStatus.PENDING)
        assert [t.id for t in listed] == [t.id for t in a[1:]]
        assert [t.id for t in await task_queue.list_tasks(status=TaskStatus.RUNNING)] == [a[0].id]
        everything = await task_queue.list_tasks()
        assert [t.id for t in everything] == sorted(t.id for t in a + b)

    @pytest.mark.anyio
    async def test_list_tasks_pages_with_limit_and_offset(self, task_queue: Any) -> None:
        tasks = [make_task(task_queue) for _ in range(9)]
        await add(task_queue, *reversed(tasks))
        pages = [await task_queue.list_tasks(limit=4, offset=o) for o in (0, 4, 8, 12)]
        assert [[t.id for t in p] for p in pages] == [
            [t.id for t in tasks[0:4]], [t.id for t in tasks[4:8]], [tasks[8].id], []]

    @pytest.mark.anyio
    async def test_delete_tasks(self, task_queue: Any) -> None:
        now = moment()
        a, b, c = (make_task(task_queue, now=now) for _ in range(3))
        await add(task_queue, a, b, c)
        assert await task_queue.delete_tasks([a.id, b.id, "no-such-task"]) == 2
        assert await task_queue.get_task(a.id) is None
        assert await task_queue.count_tasks() == 1
        assert await claim_ids(task_queue, ["default"], now, limit=5) == [c.id]
        assert await task_queue.delete_tasks([a.id]) == 0

    # -- leases --------------------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_expired_leases_lists_running_tasks_past_their_lease(
            self, task_queue: Any) -> None:
        now = moment()
        short, long_ = make_task(task_queue, now=now), make_task(task_queue, now=now)
        await add(task_queue, short, long_)
        await task_queue.claim(["default"], worker_id="w", lease=10, now=now)
        await task_queue.claim(["default"], worker_id="w", lease=100, now=now)
        pending = make_task(task_queue, now=now)
        await add(task_queue, pending)
        assert await task_queue.expired_leases(now + timedelta(seconds=9)) == []
        found = await task_queue.expired_leases(now + timedelta(seconds=11))
        assert [t.id for t in found] == [short.id]
        found = await task_queue.expired_leases(now + timedelta(seconds=101))
        assert sorted(t.id for t in found) == sorted([short.id, long_.id])
        assert len(await task_queue.expired_leases(now + timedelta(seconds=101), limit=1)) == 1

    # -- dependencies index --------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_dependents_are_indexed_under_each_parent(self, task_queue: Any) -> None:
        p1, p2 = make_task(task_queue), make_task(task_queue)
        await add(task_queue, p1, p2)
        child = _replace(make_task(task_queue, depends_on=[p1.id, p2.id]),
                         status=TaskStatus.WAITING)
        other = _replace(make_task(task_queue, depends_on=[p2.id]), status=TaskStatus.WAITING)
        await add(task_queue, child, other)
        assert [t.id for t in await task_queue.dependents(p1.id)] == [child.id]
        assert sorted(t.id for t in await task_queue.dependents(p2.id)) == sorted(
            [child.id, other.id])
        assert await task_queue.dependents(child.id) == []
        # Waiting tasks are never claimed; only the parents are.
        claimed = await claim_ids(task_queue, ["default"], moment() + timedelta(seconds=1), 10)
        assert sorted(claimed) == sorted([p1.id, p2.id])
        assert await task_queue.delete_tasks([child.id]) == 1
        assert [t.id for t in await task_queue.dependents(p2.id)] == [other.id]

    # -- waking idle workers -------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_wait_for_work_returns_within_its_timeout(self, task_queue: Any) -> None:
        with anyio.fail_after(5):
            await task_queue.wait_for_work(["default"], 0.2)

    @pytest.mark.anyio
    async def test_wait_for_work_wakes_when_work_arrives(self, task_queue: Any) -> None:
        from ..contract import TaskQueueContract
        from . import _tasks

        if type(task_queue).wait_for_work is TaskQueueContract.wait_for_work:
            pytest.skip("this queue polls (it keeps the contract's default wait_for_work)")
        started = anyio.current_time()
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                async def enqueue_soon() -> None:
                    await anyio.sleep(0.05)
                    await task_queue.enqueue(_tasks.noop, queue_name="wake")

                tg.start_soon(enqueue_soon)
                await task_queue.wait_for_work(["wake"], 5)
        elapsed = anyio.current_time() - started
        # An engine that overrides wait_for_work says it can wake an idle worker: it must.
        assert elapsed < 2.5, f"wait_for_work slept {elapsed:.2f} s although work arrived"
        assert await task_queue.count_tasks(queue_name="wake") == 1

    @staticmethod
    async def _claim_like_a_worker(task_queue: Any, queue: str, timeout: float) -> list[str]:
        """Claim, and wait_for_work between empty claims (with a long idle timeout, so a
        wake-up missed would show), as an idle worker does; returns what the claim got."""
        with anyio.fail_after(timeout):
            while not (found := await claim_ids(task_queue, [queue], moment())):
                await task_queue.wait_for_work([queue], 10)
        return found

    @pytest.mark.anyio
    async def test_wait_for_work_wakes_when_a_delayed_task_comes_due(
            self, task_queue: Any) -> None:
        from ..contract import TaskQueueContract

        if type(task_queue).wait_for_work is TaskQueueContract.wait_for_work:
            pytest.skip("this queue polls (it keeps the contract's default wait_for_work)")
        task = make_task(task_queue, delay=0.3, queue_name="soon")
        await add(task_queue, task)
        started = anyio.current_time()
        assert await self._claim_like_a_worker(task_queue, "soon", 3) == [task.id]
        elapsed = anyio.current_time() - started
        assert 0.25 <= elapsed < 1.3, f"claimed {elapsed:.2f} s after enqueue, eta was 0.3 s"

    @pytest.mark.anyio
    async def test_wait_for_work_wakes_when_a_retry_comes_due(self, task_queue: Any) -> None:
        """A retry is written while the worker already waits: it must still wake for it."""
        from ..contract import TaskQueueContract

        if type(task_queue).wait_for_work is TaskQueueContract.wait_for_work:
            pytest.skip("this queue polls (it keeps the contract's default wait_for_work)")
        await add(task_queue, make_task(task_queue, queue_name="again"))
        [running] = await task_queue.claim(["again"], worker_id="kit-worker", lease=30,
                                           now=moment())
        retry_at = moment() + timedelta(seconds=0.3)

        async def retry_soon() -> None:
            await anyio.sleep(0.1)
            retried = _replace(running, status=TaskStatus.RETRYING, run_at=retry_at,
                               worker_id=None, lease_expires_at=None)
            assert await task_queue.update_task(retried, expect_status={TaskStatus.RUNNING},
                                                expect_attempts=running.attempts)

        started = anyio.current_time()
        async with anyio.create_task_group() as tg:
            tg.start_soon(retry_soon)
            assert await self._claim_like_a_worker(task_queue, "again", 3) == [running.id]
        elapsed = anyio.current_time() - started
        assert 0.25 <= elapsed < 1.3, (f"claimed {elapsed:.2f} s after the wait began, "
                                       "retry due at 0.3 s")

    @pytest.mark.anyio
    async def test_a_queue_that_pushes_work_wakes_for_a_recovered_lease(
            self, task_queue: Any) -> None:
        """Idle workers of a ``pushes_work`` queue do not poll: whatever makes a task runnable
        again must wake them, lease recovery included."""
        if not task_queue.pushes_work:
            pytest.skip("this queue does not claim to push every wake-up (pushes_work)")
        await add(task_queue, make_task(task_queue, queue_name="lost"))
        [lost] = await task_queue.claim(["lost"], worker_id="gone", lease=0.2, now=moment())

        async def recover_later() -> None:
            await anyio.sleep(0.4)
            assert [t.id for t in await task_queue.recover_leases()] == [lost.id]

        started = anyio.current_time()
        async with anyio.create_task_group() as tg:
            tg.start_soon(recover_later)
            assert await self._claim_like_a_worker(task_queue, "lost", 3) == [lost.id]
        elapsed = anyio.current_time() - started
        assert elapsed < 1.3, f"claimed {elapsed:.2f} s after the wait began, recovered at 0.4 s"

    # -- the idle worker's claim ---------------------------------------------------------------
    @staticmethod
    def _wait_bound(task_queue: Any) -> float:
        """How long a wait may take: a pushing engine wakes at once, a polling one at timeout."""
        from ..contract import TaskQueueContract

        polls = type(task_queue).wait_for_work is TaskQueueContract.wait_for_work
        return 1.0 if polls else 5.0

    @pytest.mark.anyio
    async def test_claim_when_ready_claims_what_arrives_during_the_wait(
            self, task_queue: Any) -> None:
        from .._time import utcnow
        from . import _tasks

        timeout = self._wait_bound(task_queue)
        called = utcnow()
        with anyio.fail_after(timeout + 5):
            async with anyio.create_task_group() as tg:
                async def enqueue_soon() -> None:
                    await anyio.sleep(0.3)
                    await task_queue.enqueue(_tasks.noop, queue_name="ready")

                tg.start_soon(enqueue_soon)
                claimed: list[Any] = []
                while not claimed:  # a wait may end early (work *may* have arrived)
                    claimed = await task_queue.claim_when_ready(
                        ["ready"], worker_id="kit-worker", lease=30, limit=5, timeout=timeout)
        assert len(claimed) == 1
        [task] = claimed
        assert (task.status, task.worker_id, task.attempts) == (TaskStatus.RUNNING,
                                                                 "kit-worker", 1)
        # Leased as of the moment it woke, not the moment the wait began.
        assert task.started_at is not None and task.lease_expires_at is not None
        assert task.started_at - called >= timedelta(seconds=0.25)
        assert abs(task.lease_expires_at - task.started_at - timedelta(seconds=30)) < \
            timedelta(milliseconds=2)
        stored = await task_queue.get_task(task.id)
        assert stored.status == TaskStatus.RUNNING and stored.attempts == 1
        assert abs(stored.lease_expires_at - task.lease_expires_at) < timedelta(milliseconds=2)

    @pytest.mark.anyio
    async def test_claim_when_ready_takes_no_more_than_its_limit(self, task_queue: Any) -> None:
        earlier = moment() - timedelta(seconds=1)  # runnable whatever clock the claim reads
        ids = await add(task_queue, *(make_task(task_queue, now=earlier, queue_name="few")
                                      for _ in range(3)))
        with anyio.fail_after(self._wait_bound(task_queue) + 5):
            claimed = await task_queue.claim_when_ready(
                ["few"], worker_id="kit-worker", lease=30, limit=2,
                timeout=self._wait_bound(task_queue))
        assert [t.id for t in claimed] == ids[:2]
        assert await claim_ids(task_queue, ["few"], moment(), limit=5) == ids[2:]

    @pytest.mark.anyio
    async def test_claim_when_ready_with_nothing_waits_and_comes_back_empty(
            self, task_queue: Any) -> None:
        calls = 0
        started = anyio.current_time()
        with anyio.fail_after(5):
            while anyio.current_time() - started < 0.9:
                assert await task_queue.claim_when_ready(
                    ["nothing"], worker_id="kit-worker", lease=30, limit=5, timeout=0.3) == []
                calls += 1
        # It waits out its timeout (an early return now and then is allowed), never spins.
        assert calls <= 5, f"{calls} calls in 0.9 s with a 0.3 s timeout"
