"""``LifecycleTests``: what the core builds on the queue primitives — lease expiry
and recovery, poison pills, fencing, cancellation, retries, dead letters and dependencies —
checked on a backend without a worker, with explicit times.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio
import msgspec
import pytest

from ..exceptions import (
    TaskCancelledError,
    TaskFailedError,
    TaskNotFoundError,
    TaskTimeoutError,
)
from ..models import ErrorInfo, EventType, TaskStatus
from . import _tasks
from ._support import (
    KitBase,
    claim_ids,
    eventually,
    moment,
    running_worker,
    wait_for_event,
)

_replace = msgspec.structs.replace
ERROR = ErrorInfo("ValueError", "boom", "Traceback ...")


class LifecycleTests(KitBase):
    """Task lifecycle over a backend's queue (fixture: ``omniq``, not started)."""

    async def _claim(self, queue: Any, now: Any, lease: float = 10.0) -> Any:
        [task] = await queue.claim(["default"], worker_id="kit", lease=lease, now=now)
        return task

    async def _status(self, queue: Any, task_id: str) -> TaskStatus:
        task = await queue.get_task(task_id)
        assert task is not None
        return task.status

    # -- leases and their expiry ---------------------------------------------------------------
    @pytest.mark.anyio
    async def test_recover_leases_requeues_tasks_of_dead_workers(self, omniq: Any) -> None:
        q = omniq.task_queue
        task_id = await q.enqueue(_tasks.noop)
        now = moment()
        await self._claim(q, now, lease=5)
        assert await q.recover_leases(now + timedelta(seconds=4)) == []
        recovered = await q.recover_leases(now + timedelta(seconds=6))
        assert [t.id for t in recovered] == [task_id]
        stored = await q.get_task(task_id)
        assert stored.status == TaskStatus.PENDING
        assert stored.redeliveries == 1 and stored.worker_id is None
        again = await self._claim(q, now + timedelta(seconds=6))
        assert again.id == task_id and again.attempts == 2
        await wait_for_event(omniq, task_id, EventType.LEASE_EXPIRED)

    @pytest.mark.anyio
    async def test_poison_pill_is_dead_lettered_after_max_deliveries(self, omniq: Any) -> None:
        q = omniq.task_queue
        task_id = await q.enqueue(_tasks.noop, max_deliveries=2)
        now = moment()
        for round_ in range(2):
            at = now + timedelta(seconds=20 * round_)
            await self._claim(q, at, lease=5)
            await q.recover_leases(at + timedelta(seconds=6))
        stored = await q.get_task(task_id)
        assert stored.status == TaskStatus.FAILED
        assert stored.error is not None and stored.error.type == "PoisonPill"
        assert [t.id for t in await q.dead_letters()] == [task_id]
        assert await claim_ids(q, ["default"], now + timedelta(minutes=5)) == []
        await wait_for_event(omniq, task_id, EventType.DEAD_LETTER)

    @pytest.mark.anyio
    async def test_extend_lease_keeps_a_task_from_recovery(self, omniq: Any) -> None:
        q = omniq.task_queue
        task_id = await q.enqueue(_tasks.noop)
        now = moment()
        task = await self._claim(q, now, lease=1)
        renewed = await q.extend_lease(task, 60)
        assert renewed is not None and renewed.lease_expires_at > now + timedelta(seconds=30)
        stored = await q.get_task(task_id)
        assert stored.lease_expires_at == renewed.lease_expires_at
        assert await q.recover_leases(now + timedelta(seconds=5)) == []

    @pytest.mark.anyio
    async def test_extend_leases_renews_each_current_attempt_and_refuses_the_rest(
            self, omniq: Any) -> None:
        q = omniq.task_queue
        ids = await q.enqueue_many(_tasks.noop, [()] * 3)
        now = moment()
        held = await q.claim(["default"], worker_id="kit", lease=1, now=now, limit=3)
        assert sorted(t.id for t in held) == sorted(ids)
        finished, first, second = held
        assert (await q.finish([(q.completed(finished, now), finished.attempts)]))[0]
        # The task asked for a longer lease itself: a heartbeat worked out before that landed
        # must not cut it (a lease never moves back).
        own = await q.extend_lease(second, 600)
        assert own is not None
        answers = await q.extend_leases([(first, 60), (finished, 60), (second, 90)])
        assert answers[1] is None  # finished meanwhile: no longer a running attempt
        assert [a.id if a else None for a in answers] == [first.id, None, second.id]
        assert now + timedelta(seconds=30) < answers[0].lease_expires_at \
            < now + timedelta(seconds=120)
        assert answers[2].lease_expires_at == own.lease_expires_at
        for renewed in (answers[0], answers[2]):
            assert (await q.get_task(renewed.id)).lease_expires_at == renewed.lease_expires_at
        assert await q.recover_leases(now + timedelta(seconds=5)) == []
        assert await q.extend_leases([]) == []

    @pytest.mark.anyio
    async def test_recover_leases_spares_the_attempts_its_caller_runs(self, omniq: Any) -> None:
        """A worker whose heartbeat is late is still running its tasks: it does not take
        them back itself (another worker would, once the lease has lapsed)."""
        q = omniq.task_queue
        mine_id, theirs_id = await q.enqueue_many(_tasks.noop, [(), ()])
        now = moment()
        held = await q.claim(["default"], worker_id="kit", lease=5, now=now, limit=2)
        mine = next(t for t in held if t.id == mine_id)
        later = now + timedelta(seconds=6)
        recovered = await q.recover_leases(later, running={(mine.id, mine.attempts)})
        assert [t.id for t in recovered] == [theirs_id]
        assert (await q.get_task(mine_id)).status == TaskStatus.RUNNING
        # Another attempt of the same id is not spared.
        assert [t.id for t in await q.recover_leases(later, running={(mine_id, 99)})] \
            == [mine_id]

    # -- fencing -------------------------------------------------------------------------------
    async def _two_attempts(self, q: Any) -> tuple[str, Any, Any, Any]:
        """A task whose first attempt lost its lease and was claimed again: its id, the old
        attempt, the current one, and a time after the old lease expired."""
        task_id = await q.enqueue(_tasks.noop)
        now = moment()
        old = await self._claim(q, now, lease=5)
        later = now + timedelta(seconds=6)
        await q.recover_leases(later)
        current = await self._claim(q, later, lease=60)
        assert (old.attempts, current.attempts) == (1, 2)
        return task_id, old, current, later

    @pytest.mark.anyio
    async def test_a_stale_attempt_is_fenced_off(self, omniq: Any) -> None:
        q = omniq.task_queue
        task_id, old, current, later = await self._two_attempts(q)
        # Every write of the paused worker that wakes up late is refused.
        assert await q.extend_lease(old, 60) is None
        assert not await q.set_progress(old, 50)
        assert not await q.update_task(_replace(old, progress=1),
                                       expect_status={TaskStatus.RUNNING},
                                       expect_attempts=old.attempts)
        assert await q.finish([(q.completed(old, later), old.attempts)]) == [False]
        stored = await q.get_task(task_id)
        assert stored.status == TaskStatus.RUNNING and stored.attempts == 2
        assert stored.progress is None
        # The current attempt completes; a late failure of the old one cannot overwrite it.
        assert await q.finish([(q.completed(current, later), current.attempts)]) == [True]
        assert await q.finish([(q.failed(old, ERROR, later), old.attempts)]) == [False]
        stored = await q.get_task(task_id)
        assert stored.status == TaskStatus.COMPLETED and stored.attempts == 2

    @pytest.mark.anyio
    async def test_set_progress_of_the_current_attempt_is_stored(self, omniq: Any) -> None:
        q = omniq.task_queue
        task_id = await q.enqueue(_tasks.noop)
        task = await self._claim(q, moment())
        assert await q.set_progress(task, {"done": 3, "of": 10})
        assert (await q.get_task(task_id)).progress == {"done": 3, "of": 10}

    @pytest.mark.anyio
    async def test_finish_with_results_writes_the_results_of_what_landed_only(
            self, omniq: Any) -> None:
        from ..models import TaskResult

        q, store = omniq.task_queue, omniq.result_store
        task_id, old, current, later = await self._two_attempts(q)

        def outcome(task: Any, value: int) -> tuple[Any, TaskResult]:
            done = q.completed(task, later)
            return done, TaskResult(task_id=task_id, status=TaskStatus.COMPLETED, result=value,
                                    attempts=task.attempts, finished_at=later)

        if not q.writes_results_for(store):
            pytest.skip("this queue has the worker write results after completions")
        stale, stale_result = outcome(old, -1)
        assert await q.finish([(stale, old.attempts)], [store.record(stale_result)]) == [False]
        assert await store.get(task_id) is None  # the fenced-off attempt wrote nothing
        done, result = outcome(current, 5)
        assert await q.finish([(done, current.attempts)], [store.record(result)]) == [True]
        assert (await q.get_task(task_id)).status == TaskStatus.COMPLETED
        assert (await store.get(task_id)).result == 5

    # -- retries, dead letters, requeue --------------------------------------------------------
    @pytest.mark.anyio
    async def test_retry_waits_for_its_eta(self, omniq: Any) -> None:
        q = omniq.task_queue
        task_id = await q.enqueue(_tasks.noop, max_retries=1)
        now = moment()
        task = await self._claim(q, now)
        retry_at = now + timedelta(seconds=30)
        assert await q.finish([(q.failed(task, ERROR, now, retry_at), task.attempts)]) == [True]
        stored = await q.get_task(task_id)
        assert stored.status == TaskStatus.RETRYING and stored.retries == 1
        assert stored.error == ERROR
        assert await claim_ids(q, ["default"], now + timedelta(seconds=29)) == []
        again = await self._claim(q, now + timedelta(seconds=30))
        assert again.id == task_id and again.attempts == 2

    @pytest.mark.anyio
    async def test_failed_task_is_a_dead_letter_and_can_be_requeued(self, omniq: Any) -> None:
        q = omniq.task_queue
        task_id = await q.enqueue(_tasks.noop, queue_name="dl")
        other = await q.enqueue(_tasks.noop)
        now = moment()
        [task] = await q.claim(["dl"], worker_id="kit", lease=10, now=now)
        await q.finish([(q.failed(task, ERROR, now), task.attempts)])
        assert [t.id for t in await omniq.dead_letters()] == [task_id]
        assert [t.id for t in await omniq.dead_letters("dl")] == [task_id]
        assert await omniq.dead_letters("default") == []
        assert not await omniq.requeue(other)  # only dead tasks can be requeued
        assert await omniq.requeue(task_id)
        stored = await q.get_task(task_id)
        assert stored.status == TaskStatus.PENDING and stored.error is None
        assert await omniq.dead_letters() == []
        [again] = await q.claim(["dl"], worker_id="kit", lease=10, now=moment())
        assert again.id == task_id
        await wait_for_event(omniq, task_id, EventType.REQUEUED)

    @pytest.mark.anyio
    async def test_a_requeued_task_no_longer_answers_with_its_old_failure(
            self, omniq: Any) -> None:
        from ..models import TaskResult

        q = omniq.task_queue
        task_id = await q.enqueue(_tasks.noop)
        task, now = await self._claim(q, moment()), moment()
        gone = q.failed(task, ERROR, now)
        assert await q.finish([(gone, task.attempts)]) == [True]
        await omniq.result_store.set(TaskResult(task_id=task_id, status=TaskStatus.FAILED,
                                                error=ERROR, attempts=task.attempts,
                                                finished_at=now))
        with pytest.raises(TaskFailedError):
            await omniq.get_result(task_id, timeout=1)
        assert await omniq.requeue(task_id)
        # Its next run's outcome is its result now: until then there is none.
        with pytest.raises(TaskTimeoutError):
            await omniq.get_result(task_id, timeout=0.3)

    @pytest.mark.anyio
    async def test_expire_marks_the_task_expired(self, omniq: Any) -> None:
        q, now = omniq.task_queue, moment()
        task_id = await q.enqueue(_tasks.noop, ttl=1, run_at=now - timedelta(seconds=5))
        task = await self._claim(q, now)
        assert await q.expire(task, now)
        assert await self._status(q, task_id) == TaskStatus.EXPIRED
        with pytest.raises(TaskCancelledError):
            await omniq.get_result(task_id, timeout=1)
        await wait_for_event(omniq, task_id, EventType.EXPIRED)

    @pytest.mark.anyio
    async def test_result_ttl_expires_the_result(self, omniq: Any) -> None:
        async with running_worker(omniq, "async"):
            # Long enough for a slow store's waiter to read it before it expires.
            task_id = await omniq.enqueue(_tasks.identity, "brief", result_ttl=3.0)
            kept = await omniq.enqueue(_tasks.identity, "kept")
            assert await omniq.get_result(task_id, timeout=15) == "brief"
            assert await omniq.get_result(kept, timeout=15) == "kept"

        async def gone() -> bool:
            return await omniq.result_store.get(task_id) is None

        await eventually(gone, interval=0.1, what="the result to expire")
        assert (await omniq.get_task(task_id)).status == TaskStatus.COMPLETED
        assert await omniq.get_result(kept, timeout=1) == "kept"

    # -- cancel --------------------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_cancel_of_a_pending_task(self, omniq: Any) -> None:
        q = omniq.task_queue
        task_id = await omniq.enqueue(_tasks.noop, run_in=60)
        assert await omniq.cancel(task_id)
        stored = await q.get_task(task_id)
        assert stored.status == TaskStatus.CANCELLED and stored.finished_at is not None
        assert await claim_ids(q, ["default"], moment() + timedelta(minutes=5)) == []
        assert not await omniq.cancel(task_id)  # already finished
        with pytest.raises(TaskCancelledError):
            await omniq.get_result(task_id, timeout=1)
        await wait_for_event(omniq, task_id, EventType.CANCELLED)

    @pytest.mark.anyio
    async def test_cancel_of_a_running_task_requests_it(self, omniq: Any) -> None:
        q = omniq.task_queue
        task_id = await omniq.enqueue(_tasks.noop)
        task = await self._claim(q, moment())
        assert await omniq.cancel(task_id)
        stored = await q.get_task(task_id)
        assert stored.status == TaskStatus.RUNNING and stored.cancel_requested
        assert stored.attempts == task.attempts
        renewed = await q.extend_lease(task, 30)  # how a worker's heartbeat learns of it
        assert renewed is not None and renewed.cancel_requested

    @pytest.mark.anyio
    async def test_progress_written_after_a_cancel_request_keeps_it(self, omniq: Any) -> None:
        """The worker's copy of the task predates the request; its progress write must not
        erase the request before the next heartbeat reads it."""
        q = omniq.task_queue
        task_id = await omniq.enqueue(_tasks.noop)
        task = await self._claim(q, moment())
        assert await omniq.cancel(task_id)
        assert not task.cancel_requested  # the worker has not looked yet
        assert await q.set_progress(task, 40)
        stored = await q.get_task(task_id)
        assert stored.progress == 40 and stored.cancel_requested

    @pytest.mark.anyio
    async def test_cancel_request_survives_progress_written_at_the_same_time(
            self, omniq: Any) -> None:
        q = omniq.task_queue
        task_id = await omniq.enqueue(_tasks.noop)
        task = await self._claim(q, moment())
        async with anyio.create_task_group() as tg:
            for step in range(30):
                tg.start_soon(q.set_progress, task, step)
                if step == 10:
                    tg.start_soon(omniq.cancel, task_id)
        stored = await q.get_task(task_id)
        assert stored.status == TaskStatus.RUNNING and stored.cancel_requested
        assert isinstance(stored.progress, int)

    @pytest.mark.anyio
    async def test_cancel_of_a_finished_or_unknown_task(self, omniq: Any) -> None:
        q = omniq.task_queue
        task_id = await omniq.enqueue(_tasks.noop)
        now = moment()
        task = await self._claim(q, now)
        await q.finish([(q.completed(task, now), task.attempts)])
        assert not await omniq.cancel(task_id)
        assert await self._status(q, task_id) == TaskStatus.COMPLETED
        with pytest.raises(TaskNotFoundError):
            await omniq.cancel("no-such-task")

    # -- results through the API ---------------------------------------------------------------
    @pytest.mark.anyio
    async def test_get_result_of_unknown_or_unfinished_task(self, omniq: Any) -> None:
        with pytest.raises(TaskNotFoundError):
            await omniq.get_result("no-such-task", timeout=1)
        task_id = await omniq.enqueue(_tasks.noop, run_in=60)
        with pytest.raises(TaskTimeoutError):
            await omniq.get_result(task_id, timeout=0.3)
        with pytest.raises(TimeoutError):  # TaskTimeoutError is a TimeoutError
            await omniq.get_result(task_id, timeout=0.1)

    # -- dependencies --------------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_dependent_waits_until_every_parent_completed(self, omniq: Any) -> None:
        q = omniq.task_queue
        p1 = await omniq.enqueue(_tasks.noop, queue_name="p")
        p2 = await omniq.enqueue(_tasks.noop, queue_name="p")
        child = await omniq.enqueue(_tasks.noop, depends_on=[p1, p2], queue_name="c")
        assert await self._status(q, child) == TaskStatus.WAITING
        now = moment()
        assert await claim_ids(q, ["c"], now, limit=5) == []
        [t1, t2] = await q.claim(["p"], worker_id="kit", lease=10, now=now, limit=2)
        await q.finish([(q.completed(t1, now), t1.attempts)])
        assert await self._status(q, child) == TaskStatus.WAITING
        await q.finish([(q.completed(t2, now), t2.attempts)])
        assert await self._status(q, child) == TaskStatus.PENDING
        assert await claim_ids(q, ["c"], now) == [child]

    @pytest.mark.anyio
    async def test_dependent_of_a_completed_parent_is_pending_at_once(self, omniq: Any) -> None:
        q = omniq.task_queue
        parent = await omniq.enqueue(_tasks.noop)
        now = moment()
        task = await self._claim(q, now)
        await q.finish([(q.completed(task, now), task.attempts)])
        child = await omniq.enqueue(_tasks.noop, depends_on=[parent])
        assert await self._status(q, child) == TaskStatus.PENDING

    @pytest.mark.anyio
    async def test_sweep_settles_dependents_a_failure_left_waiting(self, omniq: Any) -> None:
        """The parents' ends were written but their dependents never settled (the process
        died in between): ``settle_waiting``, run by workers' maintenance, settles them."""
        q = omniq.task_queue
        ok_parent = await omniq.enqueue(_tasks.noop, queue_name="p")
        bad_parent = await omniq.enqueue(_tasks.noop, queue_name="p")
        released = await omniq.enqueue(_tasks.noop, queue_name="c", depends_on=[ok_parent])
        cancelled = await omniq.enqueue(_tasks.noop, queue_name="c", depends_on=[bad_parent])
        still = await omniq.enqueue(_tasks.noop, queue_name="c",
                                    depends_on=[ok_parent, await omniq.enqueue(_tasks.noop)])
        now = moment()
        [t1, t2] = await q.claim(["p"], worker_id="kit", lease=10, now=now, limit=2)
        ends = {ok_parent: q.completed, bad_parent: lambda t, n: q.failed(t, ERROR, n)}
        outcomes = await q.finish_tasks([(ends[t.id](t, now), t.attempts) for t in (t1, t2)])
        assert all(outcomes)  # written, their dependents not settled
        assert await self._status(q, released) == TaskStatus.WAITING  # left behind
        assert await q.settle_waiting() == 3
        assert await self._status(q, released) == TaskStatus.PENDING
        assert await self._status(q, cancelled) == TaskStatus.CANCELLED
        assert await self._status(q, still) == TaskStatus.WAITING  # a parent is still pending
        assert await q.settle_waiting(offset=1) == 0  # one left waiting, paged past

    @pytest.mark.anyio
    async def test_failed_parent_cancels_dependents_transitively(self, omniq: Any) -> None:
        q = omniq.task_queue
        parent = await omniq.enqueue(_tasks.noop, queue_name="p")
        child = await omniq.enqueue(_tasks.noop, depends_on=[parent])
        grandchild = await omniq.enqueue(_tasks.noop, depends_on=[child])
        sibling = await omniq.enqueue(_tasks.noop)  # independent: untouched
        now = moment()
        [task] = await q.claim(["p"], worker_id="kit", lease=10, now=now)
        await q.finish([(q.failed(task, ERROR, now), task.attempts)])
        for task_id in (child, grandchild):
            stored = await q.get_task(task_id)
            assert stored.status == TaskStatus.CANCELLED
            assert stored.error is not None and stored.error.type == "DependencyFailed"
            with pytest.raises(TaskCancelledError):
                await omniq.get_result(task_id, timeout=1)
        assert await self._status(q, sibling) == TaskStatus.PENDING
        [event] = await wait_for_event(omniq, grandchild, EventType.CANCELLED)
        assert event.message and child in event.message

    @pytest.mark.anyio
    async def test_cancelled_parent_cancels_dependents(self, omniq: Any) -> None:
        q = omniq.task_queue
        parent = await omniq.enqueue(_tasks.noop, run_in=60)
        child = await omniq.enqueue(_tasks.noop, depends_on=[parent])
        grandchild = await omniq.enqueue(_tasks.noop, depends_on=[child, parent])
        assert await omniq.cancel(parent)
        assert await self._status(q, child) == TaskStatus.CANCELLED
        assert await self._status(q, grandchild) == TaskStatus.CANCELLED
        await wait_for_event(omniq, child, EventType.CANCELLED)

    @pytest.mark.anyio
    async def test_dependent_of_a_dead_parent_is_cancelled_at_enqueue(self, omniq: Any) -> None:
        parent = await omniq.enqueue(_tasks.noop, run_in=60)
        await omniq.cancel(parent)
        child = await omniq.enqueue(_tasks.noop, depends_on=[parent])
        assert await self._status(omniq.task_queue, child) == TaskStatus.CANCELLED

    @pytest.mark.anyio
    async def test_unknown_parent_is_rejected_at_enqueue(self, omniq: Any) -> None:
        parent = await omniq.enqueue(_tasks.noop)
        with pytest.raises(TaskNotFoundError):
            await omniq.enqueue(_tasks.noop, depends_on=[parent, "no-such-task"])
        assert await omniq.task_queue.count_tasks() == 1
