"""Regression tests for bugs found in the core review (worker, completer, event logger)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import anyio
import pytest
from msgspec.structs import replace
from omniq.clock import utcnow
from omniq.events import EventLogger
from omniq.exceptions import BackendUnavailableError, TaskFailedError
from omniq.models import EventType, TaskEvent, TaskStatus
from omniq.queue.memory import AsyncMemoryTaskQueue
from omniq.storage.memory import AsyncMemoryEventStore, AsyncMemoryResultStore
from omniq.testing import _tasks
from omniq.workers._asyncio import AsyncioWorker

pytestmark = pytest.mark.anyio


async def raises_own_timeout() -> None:
    raise TimeoutError("the remote service timed out")


async def double(x: int) -> int:
    return 2 * x


class FlakyResults(AsyncMemoryResultStore):
    """Fails the first batched write, as a store that drops a connection would."""

    failures = 1

    async def put_blobs(self, items: Sequence[tuple]) -> None:  # type: ignore[override]
        if self.failures:
            self.failures -= 1
            raise ConnectionError("result store went away")
        await super().put_blobs(items)


class DeafQueue(AsyncMemoryTaskQueue):
    """A queue whose wake-up channel is broken (it must fall back to polling)."""

    async def wait_for_work(self, queues: Sequence[str], timeout: float) -> None:
        raise ConnectionError("listen channel closed")


class LostAnswerQueue(AsyncMemoryTaskQueue):
    """Commits the first batch of finished tasks, then loses the answer (a connection that
    drops after COMMIT was sent): the caller cannot tell it landed."""

    lost = 1

    async def finish_tasks(self, updates, results=None):  # type: ignore[no-untyped-def]
        done = await super().finish_tasks(updates, results)
        if self.lost and any(t.is_finished for t, _ in updates):
            self.lost -= 1
            raise ConnectionError("connection lost after commit")
        return done


class StuckDependentsQueue(AsyncMemoryTaskQueue):
    """Cannot release dependents once (the store failed right after the parent's write)."""

    failures = 1

    async def dependents(self, task_id: str):  # type: ignore[no-untyped-def]
        if self.failures:
            self.failures -= 1
            raise ConnectionError("store went away")
        return await super().dependents(task_id)


class SlowEvents(AsyncMemoryEventStore):
    """Appends slowly, so a stop can arrive while a batch is being written."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.entered = asyncio.Event()

    async def append(self, events: Sequence[TaskEvent]) -> None:
        self.entered.set()
        await asyncio.sleep(0.2)
        await super().append(events)


async def test_task_raising_timeout_error_is_an_ordinary_failure(project_name: str) -> None:
    queue = AsyncMemoryTaskQueue(project_name=project_name)
    results = AsyncMemoryResultStore(project_name=project_name)
    events = AsyncMemoryEventStore(project_name=project_name)
    async with AsyncioWorker(queue, results, events, poll_interval=0.05) as worker:
        task_id = await queue.enqueue(raises_own_timeout, max_retries=0, timeout=30)
        with anyio.fail_after(5), pytest.raises(TaskFailedError) as info:
            await worker.get_result(task_id)
    assert info.value.exc_type == "TimeoutError"
    assert not [e for e in await events.get_events(task_id=task_id)
                if e.type == EventType.TIMEOUT]


async def doubled_by_a_worker(queue: AsyncMemoryTaskQueue,
                              results: AsyncMemoryResultStore, x: int) -> str:
    """Run ``double(x)`` through an async worker; asserts its result reached the caller."""
    async with AsyncioWorker(queue, results, poll_interval=0.05) as worker:
        task_id = await queue.enqueue(double, x)
        with anyio.fail_after(5):
            assert await worker.get_result(task_id) == 2 * x
    return task_id


async def test_result_survives_a_failed_result_write(project_name: str) -> None:
    results = FlakyResults(project_name=project_name)
    await doubled_by_a_worker(AsyncMemoryTaskQueue(project_name=project_name), results, 21)
    assert results.failures == 0


async def test_result_kept_when_the_answer_to_a_committed_completion_is_lost(
        project_name: str) -> None:
    queue = LostAnswerQueue(project_name=project_name)
    await doubled_by_a_worker(queue, AsyncMemoryResultStore(project_name=project_name), 5)
    assert queue.lost == 0


async def test_dependents_left_waiting_by_a_failure_are_settled_by_the_sweep(
        project_name: str) -> None:
    queue = StuckDependentsQueue(project_name=project_name)
    results = AsyncMemoryResultStore(project_name=project_name)
    async with AsyncioWorker(queue, results, poll_interval=0.05) as worker:
        parent = await queue.enqueue(double, 1)
        child = await queue.enqueue(double, 2, depends_on=[parent])
        with anyio.fail_after(5):
            assert await worker.get_result(parent) == 2  # the parent's result is not lost
        assert queue.failures == 0
        assert (await queue.get_task(child)).status == TaskStatus.WAITING
        assert await queue.settle_waiting() == 1  # what a worker's maintenance runs
        with anyio.fail_after(5):
            assert await worker.get_result(child) == 4


async def test_broken_wait_for_work_does_not_stop_claiming(project_name: str) -> None:
    queue = DeafQueue(project_name=project_name)
    results = AsyncMemoryResultStore(project_name=project_name)
    async with AsyncioWorker(queue, results, poll_interval=0.05) as worker:
        await anyio.sleep(0.1)  # the idle worker has hit the broken channel by now
        task_id = await queue.enqueue(double, 4)
        with anyio.fail_after(5):
            assert await worker.get_result(task_id) == 8
        assert worker.is_running


@pytest.mark.parametrize("call", ["stop", "flush"])  # flush: what get_events runs first
async def test_event_logger_stop_and_flush_wait_for_the_batch_being_written(
        project_name: str, call: str) -> None:
    store = SlowEvents(project_name=project_name)
    async with store:
        events = EventLogger(store, flush_interval=0.01)
        await events.start()
        events.schedule_event(EventType.SCHEDULE_CREATED, "s1")
        with anyio.fail_after(5):
            await store.entered.wait()  # the writer holds the only event, mid-write
            await getattr(events, call)()
        assert [e.schedule_id for e in await store.get_events()] == ["s1"]
        await events.stop()


class DownEvents(AsyncMemoryEventStore):
    """An event store that is down until ``up`` is set."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.up, self.tries = False, 0

    async def append(self, events: Sequence[TaskEvent]) -> None:
        self.tries += 1
        if not self.up:
            raise BackendUnavailableError("event store down")
        await super().append(events)


async def test_an_event_store_outage_is_logged_once_and_tried_ever_less_often(
        project_name: str, caplog: pytest.LogCaptureFixture) -> None:
    # Each try logged a WARNING with a whole traceback, about every 0.1 s (300 lines in 4 s).
    store = DownEvents(project_name=project_name)
    async with store:
        events = EventLogger(store, flush_interval=0.01)
        await events.start()
        with caplog.at_level(logging.DEBUG, logger="omniq.events"):
            events.schedule_event(EventType.SCHEDULE_CREATED, "s1")
            await anyio.sleep(1.0)
            assert 3 <= store.tries <= 9  # 0.01 s, doubling: not 100 tries in a second
            store.up = True
            with anyio.fail_after(10):
                while not await store.query():
                    await anyio.sleep(0.05)
        await events.stop()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "could not write 1 events (BackendUnavailableError: event store down); they are kept "
        "and written when the event store answers",
        "event store answers again: writing the events kept"]
    assert all(r.exc_info is None for r in warnings)


class SlowResults(AsyncMemoryResultStore):
    """Writes results slowly, so a worker stop arrives while a batch is being written."""

    async def put_blobs(self, items: Sequence[tuple]) -> None:  # type: ignore[override]
        await asyncio.sleep(0.5)
        await super().put_blobs(items)


async def test_stop_finishes_the_completion_batch_being_written(project_name: str) -> None:
    queue = AsyncMemoryTaskQueue(project_name=project_name)
    results = SlowResults(project_name=project_name)
    worker = AsyncioWorker(queue, results, poll_interval=0.05, grace_period=0.05)
    await worker.start()
    task_id = await queue.enqueue(double, 5)
    with anyio.fail_after(5):
        while (await queue.require_task(task_id)).status != TaskStatus.COMPLETED:
            await anyio.sleep(0.01)
        await worker.stop()  # the result write is still in flight: stop must wait for it
    stored = await results.get(task_id)
    assert stored is not None and stored.result == 10


class SlowFinishQueue(AsyncMemoryTaskQueue):
    """Takes a while to write each batch of finished tasks, as a remote store does."""

    delay = 0.2

    async def finish_tasks(self, updates, results=None):  # type: ignore[no-untyped-def]
        await asyncio.sleep(self.delay)
        return await super().finish_tasks(updates, results)


async def mark_start(tag: str) -> str:
    STARTS[tag] = anyio.current_time()
    return tag


STARTS: dict[str, float] = {}


async def test_the_next_task_starts_while_the_last_completion_is_being_written(
        project_name: str) -> None:
    queue = SlowFinishQueue(project_name=project_name)
    results = AsyncMemoryResultStore(project_name=project_name)
    async with AsyncioWorker(queue, results, max_workers=1, poll_interval=0.05) as worker:
        first = await queue.enqueue(mark_start, "first")
        second = await queue.enqueue(mark_start, "second")
        with anyio.fail_after(5):
            assert await worker.get_result(second) == "second"
            assert await worker.get_result(first) == "first"
    # One slot: the second task took it as soon as the first returned, not after the write.
    assert STARTS["second"] - STARTS["first"] < queue.delay / 2


async def test_slow_completion_writes_hold_back_claims_without_stalling(
        project_name: str) -> None:
    queue = SlowFinishQueue(project_name=project_name)
    queue.delay = 0.05
    results = AsyncMemoryResultStore(project_name=project_name)
    async with AsyncioWorker(queue, results, max_workers=2, poll_interval=0.05) as worker:
        peak = 0

        async def watch() -> None:
            nonlocal peak
            while True:
                peak = max(peak, len(worker._running))
                await anyio.sleep(0.001)

        async with anyio.create_task_group() as tg:
            tg.start_soon(watch)
            ids = await queue.enqueue_many(double, list(range(20)))
            with anyio.fail_after(10):
                assert [await worker.get_result(i) for i in ids] == [2 * i for i in range(20)]
            tg.cancel_scope.cancel()
    # the slots' tasks, and at most one more round whose completions are being written
    assert 2 < peak <= 2 * worker.max_workers


class TogetherThenLostQueue(AsyncMemoryTaskQueue):
    """Finishes and writes results in one call, as Redis does, but the first call loses its
    answer after the finish landed and before the results were written."""

    lost = 1
    store = None

    def writes_results_for(self, store):  # type: ignore[no-untyped-def]
        self.store = store
        return True

    async def finish_tasks(self, updates, results=None):  # type: ignore[no-untyped-def]
        done = await super().finish_tasks(updates)
        if self.lost:
            self.lost -= 1
            raise ConnectionError("connection lost after the finish")
        if results:
            await self.store.put_blobs([r for r, ok in zip(results, done, strict=True)
                                        if ok and r is not None])
        return done


async def test_a_lost_answer_to_finish_with_results_still_stores_the_result(
        project_name: str) -> None:
    queue = TogetherThenLostQueue(project_name=project_name)
    task_id = await doubled_by_a_worker(
        queue, AsyncMemoryResultStore(project_name=project_name), 21)
    assert queue.lost == 0
    assert (await queue.get_task(task_id)).status == TaskStatus.COMPLETED


async def test_a_heartbeat_during_the_completion_write_does_not_cancel_its_task(
        project_name: str) -> None:
    """The finish has landed (the task is no longer running) and the result is still being
    written when a heartbeat comes: that is not a lost lease, and the task's own COMPLETE
    event and callback must still follow."""
    queue = AsyncMemoryTaskQueue(project_name=project_name)
    results = SlowResults(project_name=project_name)  # 0.5 s per result write
    events = AsyncMemoryEventStore(project_name=project_name)
    async with events, AsyncioWorker(queue, results, event_store=events, lease=0.3,
                                     poll_interval=0.05) as worker:
        task_id = await queue.enqueue(double, 4)
        with anyio.fail_after(5):
            assert await worker.get_result(task_id) == 8
            await anyio.sleep(0.2)
            await worker.events.flush()
        types = [e.type for e in await events.get_events(task_id=task_id)]
    assert EventType.COMPLETE in types


class SwallowingQueue(AsyncMemoryTaskQueue):
    """Turns the cancellation of a slow read into its own error, as a driver whose request
    uses Python 3.11's ``asyncio.wait_for`` can when the cancel races with its timeout."""

    async def expired_leases(self, now, limit):  # type: ignore[no-untyped-def]
        try:
            await asyncio.sleep(0.3)
        except asyncio.CancelledError:
            raise ConnectionError("request timed out") from None
        return await super().expired_leases(now, limit)


async def test_worker_stops_when_a_driver_swallowed_its_cancellation(
        project_name: str, caplog: pytest.LogCaptureFixture) -> None:
    queue = SwallowingQueue(project_name=project_name)
    worker = AsyncioWorker(queue, AsyncMemoryResultStore(project_name=project_name),
                           maintenance_interval=0.01)
    await worker.start()
    await asyncio.sleep(0.2)  # the maintenance loop is inside the slow read now
    with anyio.fail_after(4):
        await worker.stop()
    assert "ignored cancellation" not in caplog.text


class SlowRenewals(AsyncMemoryTaskQueue):
    """Each lease renewal takes 0.4 s (more than a third of the lease below), as on a store
    reached through a thread while CPU-bound tasks hold the GIL (the chaos suite's long tasks
    on the file backend)."""

    async def renew_lease(self, task_id, attempts, expires_at):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.4)
        return await super().renew_lease(task_id, attempts, expires_at)


async def sleepy(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


async def test_slow_renewals_keep_the_leases_of_many_tasks(project_name: str) -> None:
    """Six tasks, each renewal 0.4 s, a 1 s lease: renewed one after the other, a round
    outlasted the lease and every task was recovered and run again; renewed together, each
    round starts as soon as the last one ends (it outlasts a third of the lease)."""
    queue = SlowRenewals(project_name=project_name)
    async with AsyncioWorker(queue, AsyncMemoryResultStore(project_name=project_name),
                             lease=1.0, max_workers=6, poll_interval=0.05,
                             maintenance_interval=0.1) as worker:
        ids = [await queue.enqueue(sleepy, 3.0) for _ in range(6)]
        with anyio.fail_after(20):
            for task_id in ids:
                assert await worker.get_result(task_id) == 3.0
    tasks = [await queue.get_task(task_id) for task_id in ids]
    assert [(t.attempts, t.redeliveries) for t in tasks] == [(1, 0)] * 6


class TimedRenewals(AsyncMemoryTaskQueue):
    """Records the lease each renewal asks for; the first round takes ``first_round`` seconds
    (a worker whose heartbeat is starved), and rounds block while ``hold`` is clear."""

    first_round = 0.0
    hold: asyncio.Event | None = None

    async def renew_leases(self, leases):  # type: ignore[no-untyped-def]
        self.asked = getattr(self, "asked", [])
        now = utcnow()
        self.asked.append([(expires_at - now).total_seconds() for _, _, expires_at in leases])
        if len(self.asked) == 1:
            await asyncio.sleep(self.first_round)
        return await super().renew_leases(leases)

    async def renew_lease(self, task_id, attempts, expires_at):  # type: ignore[no-untyped-def]
        if self.hold is not None:
            await self.hold.wait()
        return await super().renew_lease(task_id, attempts, expires_at)


async def test_a_slow_heartbeat_round_lengthens_the_next_leases(project_name: str) -> None:
    """A round that took 0.6 s of a 1 s lease: the next renewals ask for three times that, so
    a worker slowed by its own CPU-bound threads outlasts the next slow round too."""
    queue = TimedRenewals(project_name=project_name)
    queue.first_round = 0.6
    async with AsyncioWorker(queue, AsyncMemoryResultStore(project_name=project_name),
                             lease=1.0, poll_interval=0.05, maintenance_interval=0.1) as worker:
        task_id = await queue.enqueue(sleepy, 2.0)
        with anyio.fail_after(10):
            assert await worker.get_result(task_id) == 2.0
    first, *later = [max(round_) for round_ in queue.asked]
    assert first == pytest.approx(1.0, abs=0.1)
    assert later and all(asked >= 1.7 for asked in later), queue.asked
    task = await queue.get_task(task_id)
    assert (task.attempts, task.redeliveries) == (1, 0)


async def test_a_worker_never_takes_back_a_task_it_is_running(project_name: str) -> None:
    """Its renewals stuck past the lease, the worker's own maintenance finds the lease lapsed:
    it leaves the task alone (it is running it), and the task completes on its first run."""
    queue = TimedRenewals(project_name=project_name)
    queue.hold = asyncio.Event()
    async with AsyncioWorker(queue, AsyncMemoryResultStore(project_name=project_name),
                             lease=0.5, poll_interval=0.05, maintenance_interval=0.05) as worker:
        task_id = await queue.enqueue(sleepy, 1.5)
        with anyio.fail_after(10):
            assert await worker.get_result(task_id) == 1.5
        queue.hold.set()
    task = await queue.get_task(task_id)
    assert (task.attempts, task.redeliveries, task.status) == (1, 0, TaskStatus.COMPLETED)


async def events_once_run(worker: AsyncioWorker, events: AsyncMemoryEventStore,
                          task_id: str) -> list[EventType]:
    """The task's event types in timestamp order, once it has run (``pow(2, 3)``) and its
    three events are in."""
    with anyio.fail_after(5):
        assert await worker.get_result(task_id) == 8
        while len(await events.get_events(task_id=task_id)) < 3:
            await asyncio.sleep(0.02)
    return [e.type for e in sorted(await events.get_events(task_id=task_id),
                                   key=lambda e: e.timestamp)]


async def test_enqueue_event_comes_first_when_a_worker_claims_before_the_write_returns(
        project_name: str) -> None:
    """The write lands, its reply is slow, a worker runs the task meanwhile: the ENQUEUED event
    is stamped when the write began, so the task's events still read in the order they
    happened (they came out EXECUTING, COMPLETE, ENQUEUED under a loaded CI run)."""
    queue = AsyncMemoryTaskQueue(project_name=project_name)
    results = AsyncMemoryResultStore(project_name=project_name)
    events = AsyncMemoryEventStore(project_name=project_name)
    async with AsyncioWorker(queue, results, events, poll_interval=0.01) as worker:
        write = queue._writer._write

        async def slow_reply(tasks: Sequence[object]) -> list[bool]:
            stored = await write(tasks)  # type: ignore[arg-type]
            await asyncio.sleep(0.3)  # the worker claims and runs it meanwhile
            return stored

        queue._writer._write = slow_reply
        task_id = await queue.enqueue(pow, 2, 3)
        assert await events_once_run(worker, events, task_id) == [
            EventType.ENQUEUED, EventType.EXECUTING, EventType.COMPLETE]


async def test_requeue_event_comes_first_when_a_worker_runs_the_task_before_the_write_returns(
        project_name: str) -> None:
    """A dead letter requeued: the write lands, its reply is slow, a worker runs the task
    meanwhile. REQUEUED is stamped when the write began, so it reads before that run's
    EXECUTING (it was stamped after the write, and came out after EXECUTING)."""
    queue = AsyncMemoryTaskQueue(project_name=project_name)
    results = AsyncMemoryResultStore(project_name=project_name)
    events = AsyncMemoryEventStore(project_name=project_name)
    task_id = await queue.enqueue(pow, 2, 3)
    task = await queue.require_task(task_id)
    await queue.update_task(replace(task, status=TaskStatus.FAILED),
                            expect_status={TaskStatus.PENDING})
    update = queue.update_task

    async def slow_reply(*args: Any, **kwargs: Any) -> bool:
        stored = await update(*args, **kwargs)
        await asyncio.sleep(0.3)  # the worker claims and runs it meanwhile
        return stored

    async with AsyncioWorker(queue, results, events, poll_interval=0.01) as worker:
        queue.update_task = slow_reply  # type: ignore[method-assign]
        assert await queue.requeue(task_id)
        assert await events_once_run(worker, events, task_id) == [
            EventType.REQUEUED, EventType.EXECUTING, EventType.COMPLETE]


async def test_a_child_settled_after_its_parent_died_names_that_parent(project_name: str) -> None:
    # The sweep's message was "a parent failed or was cancelled", whichever parent it was.
    from omniq import AsyncOmniQ

    async with AsyncOmniQ(project_name=project_name, backend_type="memory") as oq:
        ok = await oq.enqueue(_tasks.add, 1, 2)
        doomed = await oq.enqueue(_tasks.add, 1, 2)
        assert await oq.cancel(doomed)
        child = await oq.enqueue(_tasks.add, 3, 4, depends_on=[ok, doomed])
        await oq.task_queue.settle_waiting()
        task = await oq.get_task(child)
        assert task.status == TaskStatus.CANCELLED
        assert task.error.message == f"parent {doomed} cancelled"
