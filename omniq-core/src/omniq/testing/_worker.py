"""``WorkerTests``: tasks run end to end through a real worker of every type on the backend.

Every test runs once per worker type (the ``worker_type`` fixture: ``async``, ``thread_pool``,
``process_pool``; a plugin adding a worker type overrides it). Task functions come from
:mod:`omniq.testing._tasks`, and whatever crosses process boundaries goes through files in
``tmp_path``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

from ..exceptions import TaskCancelledError, TaskFailedError
from ..models import CancelOutcome, EventType, TaskStatus
from . import _tasks
from ._support import (
    KitBase,
    events_of,
    eventually,
    leases,
    moment,
    pid_alive,
    running_worker,
    wait_for_event,
)

WAIT = 20.0  # seconds a result may take (process pools spawn their children first)


class WorkerTests(KitBase):
    """End-to-end behaviour through workers (fixtures: ``omniq``, ``worker_type``)."""

    @pytest.fixture(params=["async", "thread_pool", "process_pool"])
    def worker_type(self, request: pytest.FixtureRequest) -> str:
        return str(request.param)

    # -- running and results -------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_sync_and_async_functions_return_results(self, omniq: Any,
                                                            worker_type: str) -> None:
        async with running_worker(omniq, worker_type):
            sync_id = await omniq.enqueue(_tasks.add, 2, 3)
            async_id = await omniq.enqueue(_tasks.async_add, func_args={"a": "x", "b": "y"})
            many = await omniq.enqueue_many(_tasks.identity, [{"value": i} for i in range(30)])
            assert await omniq.get_result(sync_id, timeout=WAIT) == 5
            assert await omniq.get_result(async_id, timeout=WAIT) == "xy"
            assert [await omniq.get_result(t, timeout=WAIT) for t in many] == list(range(30))
        task = await omniq.get_task(sync_id)
        assert task.status == TaskStatus.COMPLETED and task.attempts == 1
        assert task.finished_at is not None

    @pytest.mark.anyio
    async def test_lifecycle_events_are_recorded(self, omniq: Any, worker_type: str) -> None:
        async with running_worker(omniq, worker_type):
            task_id = await omniq.enqueue(_tasks.add, 1, 1)
            assert await omniq.get_result(task_id, timeout=WAIT) == 2
            await wait_for_event(omniq, task_id, EventType.COMPLETE)
        types = [e.type for e in await events_of(omniq, task_id)]
        assert types == [EventType.ENQUEUED, EventType.EXECUTING, EventType.COMPLETE]

    @pytest.mark.anyio
    async def test_failing_task_raises_with_the_remote_error(self, omniq: Any,
                                                             worker_type: str) -> None:
        async with running_worker(omniq, worker_type):
            sync_id = await omniq.enqueue(_tasks.fail, "bad input 17")
            async_id = await omniq.enqueue(_tasks.async_fail, "async bad input")
            for task_id, message in ((sync_id, "bad input 17"), (async_id, "async bad input")):
                with pytest.raises(TaskFailedError) as info:
                    await omniq.get_result(task_id, timeout=WAIT)
                assert info.value.exc_type == "ValueError"
                assert info.value.message == message
                assert info.value.task_id == task_id
                assert info.value.remote_traceback and "ValueError" in info.value.remote_traceback
                assert "fail" in info.value.remote_traceback
        assert (await omniq.get_task(sync_id)).status == TaskStatus.FAILED

    # -- retries and dead letters --------------------------------------------------------------
    @pytest.mark.anyio
    async def test_flaky_task_completes_on_its_third_attempt(self, omniq: Any, worker_type: str,
                                                             tmp_path: Path) -> None:
        counter = str(tmp_path / "calls")
        async with running_worker(omniq, worker_type):
            task_id = await omniq.enqueue(_tasks.flaky, counter, 2, "finally",
                                          max_retries=3, retry_delay=0.01)
            assert await omniq.get_result(task_id, timeout=WAIT) == "finally"
            retries = await wait_for_event(omniq, task_id, EventType.RETRY, count=2)
        task = await omniq.get_task(task_id)
        assert task.attempts == 3 and task.retries == 2 and task.status == TaskStatus.COMPLETED
        assert len(retries) == 2
        assert all("flaky failure" in (e.message or "") for e in retries)
        # Exponential backoff with jitter over the upper half: 0.01 s, then 0.02 s.
        delays = [e.data["delay"] for e in sorted(retries, key=lambda e: e.attempt or 0)]
        assert 0.005 <= delays[0] <= 0.01 and 0.01 <= delays[1] <= 0.02, delays
        assert Path(counter).read_text() == "3"

    @pytest.mark.anyio
    async def test_task_out_of_retries_is_dead_lettered_and_can_be_requeued(
            self, omniq: Any, worker_type: str, tmp_path: Path) -> None:
        gate = str(tmp_path / "gate")
        async with running_worker(omniq, worker_type):
            task_id = await omniq.enqueue(_tasks.fail_unless_exists, gate, "second life",
                                          max_retries=2, retry_delay=0.01)
            with pytest.raises(TaskFailedError) as info:
                await omniq.get_result(task_id, timeout=WAIT)
            assert info.value.exc_type == "FileNotFoundError"
            task = await omniq.get_task(task_id)
            assert task.status == TaskStatus.FAILED and task.attempts == 3
            assert [t.id for t in await omniq.dead_letters()] == [task_id]
            await wait_for_event(omniq, task_id, EventType.RETRY, count=2)
            await wait_for_event(omniq, task_id, EventType.DEAD_LETTER)
            Path(gate).write_text("open")
            assert await omniq.requeue(task_id)

            async def completed() -> bool:
                task = await omniq.get_task(task_id)
                return task.status == TaskStatus.COMPLETED

            await eventually(completed, timeout=WAIT, what="the requeued task to complete")
            assert await omniq.get_result(task_id, timeout=WAIT) == "second life"
        assert await omniq.dead_letters() == []

    # -- timeouts ------------------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_task_past_its_timeout_fails(self, omniq: Any, worker_type: str,
                                               tmp_path: Path) -> None:
        marker = str(tmp_path / "slow")
        coroutine = worker_type == "async"
        func = _tasks.async_sleep_then_touch if coroutine else _tasks.sleep_then_touch
        async with running_worker(omniq, worker_type):
            # Warm up first: a process pool's first task waits for its child to spawn, and
            # that must not eat into the timeout under test.
            assert await omniq.get_result(await omniq.enqueue(_tasks.identity, 1),
                                          timeout=WAIT) == 1
            task_id = await omniq.enqueue(func, marker, 1.0, timeout=0.5)
            with pytest.raises(TaskFailedError) as info:
                await omniq.get_result(task_id, timeout=WAIT)
            assert info.value.exc_type == "TaskTimeoutError"
            await wait_for_event(omniq, task_id, EventType.TIMEOUT)
            if coroutine:  # an async task is cancelled
                await eventually(lambda: Path(marker + ".cancelled").exists(),
                                 what="the coroutine to be cancelled")
            elif worker_type == "process_pool":  # its process is killed
                pid = int(Path(marker + ".pid").read_text())
                await eventually(lambda: not pid_alive(pid), what="the task's process to die")
            elif worker_type == "thread_pool":  # a thread runs on; its late result is dropped
                await eventually(lambda: Path(marker).exists(), what="the thread to finish")
        task = await omniq.get_task(task_id)
        assert task.status == TaskStatus.FAILED and task.error.type == "TaskTimeoutError"
        with pytest.raises(TaskFailedError):
            await omniq.get_result(task_id, timeout=1)

    # -- ttl and cancellation ------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_expired_task_never_runs(self, omniq: Any, worker_type: str,
                                           tmp_path: Path) -> None:
        marker = tmp_path / "ran"
        task_id = await omniq.enqueue(_tasks.touch, str(marker), ttl=1,
                                      run_at=moment() - timedelta(seconds=5))
        async with running_worker(omniq, worker_type):
            with pytest.raises(TaskCancelledError) as info:
                await omniq.get_result(task_id, timeout=WAIT)
            assert info.value.status == "expired"
            await wait_for_event(omniq, task_id, EventType.EXPIRED)
        assert (await omniq.get_task(task_id)).status == TaskStatus.EXPIRED
        assert not marker.exists()
        assert EventType.EXECUTING not in [e.type for e in await events_of(omniq, task_id)]

    @pytest.mark.anyio
    async def test_cancelled_queued_task_never_runs(self, omniq: Any, worker_type: str,
                                                    tmp_path: Path) -> None:
        marker = tmp_path / "ran"
        async with running_worker(omniq, worker_type):
            task_id = await omniq.enqueue(_tasks.touch, str(marker), run_in=0.5)
            assert await omniq.cancel(task_id)
            with pytest.raises(TaskCancelledError):
                await omniq.get_result(task_id, timeout=WAIT)
            # A task enqueued after it, due after it, runs: the worker was there all along.
            later = await omniq.enqueue(_tasks.identity, "after", run_in=0.6)
            assert await omniq.get_result(later, timeout=WAIT) == "after"
        assert not marker.exists()
        assert (await omniq.get_task(task_id)).status == TaskStatus.CANCELLED

    @pytest.mark.anyio
    async def test_cancel_of_a_running_task(self, omniq: Any, worker_type: str,
                                            tmp_path: Path) -> None:
        marker = str(tmp_path / "long")
        func = _tasks.async_wait_for_cancel if worker_type == "async" else _tasks.wait_for_cancel
        async with running_worker(omniq, worker_type, lease=leases(0.6)):
            task_id = await omniq.enqueue(func, marker)
            await eventually(lambda: Path(marker + ".started").exists(),
                             timeout=WAIT, what="the task to start")
            assert await omniq.cancel(task_id)
            with pytest.raises(TaskCancelledError):
                await omniq.get_result(task_id, timeout=WAIT)
            if worker_type == "process_pool":  # forceful: the process is killed
                pid = int(Path(marker + ".pid").read_text())
                await eventually(lambda: not pid_alive(pid), what="the task's process to die")
            elif worker_type in ("async", "thread_pool"):  # cooperative: the task saw it
                await eventually(lambda: Path(marker + ".cancelled").exists(),
                                 what="the task to notice its cancellation")
        task = await omniq.get_task(task_id)
        assert task.status == TaskStatus.CANCELLED

    @pytest.mark.anyio
    async def test_cancel_stops_a_running_task_within_about_a_second(
            self, omniq: Any, worker_type: str, tmp_path: Path) -> None:
        # A long lease: heartbeats come every 10 s, so only the cancel check notices in time.
        # The task does not check ``cancelled``: the worker must stop it (or drop it) itself.
        marker = str(tmp_path / "long")
        coroutine = worker_type == "async"
        seconds = 2.5 if worker_type == "thread_pool" else 30
        func = _tasks.async_sleep_then_touch if coroutine else _tasks.sleep_then_touch
        async with running_worker(omniq, worker_type, lease=30):
            task_id = await omniq.enqueue(func, marker, seconds, "too late")
            await eventually(lambda: Path(marker + ".started").exists(),
                             timeout=WAIT, what="the task to start")
            asked = anyio.current_time()
            assert await omniq.cancel(task_id) == CancelOutcome.REQUESTED
            with pytest.raises(TaskCancelledError) as info:
                await omniq.get_result(task_id, timeout=WAIT)
            took = anyio.current_time() - asked
            assert took < 2.0, f"the cancel took {took:.2f} s to be noticed"
            how = {"async": "coroutine was cancelled", "process_pool": "process was killed",
                   "thread_pool": "thread was asked to stop"}.get(worker_type, "")
            assert how in (info.value.reason or ""), info.value.reason
            if coroutine:
                assert Path(marker + ".cancelled").exists()
            elif worker_type == "process_pool":
                pid = int(Path(marker + ".pid").read_text())
                await eventually(lambda: not pid_alive(pid), timeout=1.0,
                                 what="the task's process to die")
            elif worker_type == "thread_pool":  # the thread runs on; its result is dropped
                await eventually(lambda: Path(marker).exists(), what="the thread to finish")
                await anyio.sleep(0.2)
        task = await omniq.get_task(task_id)
        assert task.status == TaskStatus.CANCELLED and task.attempts == 1
        with pytest.raises(TaskCancelledError):
            await omniq.get_result(task_id, timeout=1)
        assert EventType.COMPLETE not in [e.type for e in await events_of(omniq, task_id)]

    @pytest.mark.anyio
    async def test_cancel_says_what_it_did(self, omniq: Any, worker_type: str) -> None:
        queued = await omniq.enqueue(_tasks.identity, 1, run_in=60)
        assert await omniq.cancel(queued) == CancelOutcome.CANCELLED
        async with running_worker(omniq, worker_type):
            done = await omniq.enqueue(_tasks.identity, 2)
            assert await omniq.get_result(done, timeout=WAIT) == 2
        outcome = await omniq.cancel(done)
        assert outcome == CancelOutcome.ALREADY_FINISHED and not outcome
        assert (await omniq.get_task(done)).status == TaskStatus.COMPLETED

    # -- logging -------------------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_worker_logs_retries_and_dead_letters(
            self, omniq: Any, worker_type: str, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG, logger="omniq.worker")
        async with running_worker(omniq, worker_type):
            task_id = await omniq.enqueue(_tasks.fail, "broken 42", max_retries=1,
                                          retry_delay=0.01)
            with pytest.raises(TaskFailedError):
                await omniq.get_result(task_id, timeout=WAIT)
            ok_id = await omniq.enqueue(_tasks.identity, 1)
            assert await omniq.get_result(ok_id, timeout=WAIT) == 1
            await eventually(lambda: _logged(caplog, ok_id, "completed"),
                             what="the completion to be logged")
        mine = [r for r in caplog.records if task_id in r.getMessage()]
        retry = [r for r in mine if "retrying" in r.getMessage()]
        dead = [r for r in mine if "dead-lettered" in r.getMessage()]
        assert len(retry) == 1 and retry[0].levelno == logging.INFO, mine
        assert len(dead) == 1 and dead[0].levelno == logging.WARNING, mine
        for record, attempt in ((retry[0], "attempt 1"), (dead[0], "attempt 2")):
            message = record.getMessage()
            assert record.name.startswith("omniq.worker")
            assert "fail" in message and "queue default" in message and attempt in message
            assert "ValueError: broken 42" in message
        assert any("claimed" in r.getMessage() and r.levelno == logging.DEBUG for r in mine)

    @pytest.mark.anyio
    async def test_worker_logs_timeouts_and_expiries(
            self, omniq: Any, worker_type: str, tmp_path: Path,
            caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.INFO, logger="omniq.worker")
        expired = await omniq.enqueue(_tasks.identity, 1, ttl=1,
                                      run_at=moment() - timedelta(seconds=5))
        func = (_tasks.async_sleep_then_touch if worker_type == "async"
                else _tasks.sleep_then_touch)
        async with running_worker(omniq, worker_type):
            assert await omniq.get_result(await omniq.enqueue(_tasks.identity, 1),
                                          timeout=WAIT) == 1  # warm up (process pools)
            slow = await omniq.enqueue(func, str(tmp_path / "slow"), 1.0, timeout=0.3)
            with pytest.raises(TaskFailedError):
                await omniq.get_result(slow, timeout=WAIT)
            with pytest.raises(TaskCancelledError):
                await omniq.get_result(expired, timeout=WAIT)
            await eventually(lambda: _logged(caplog, expired, "expired"),
                             what="the expiry to be logged")
        assert _logged(caplog, slow, "timed out")
        assert _logged(caplog, slow, "dead-lettered").levelno == logging.WARNING

    # -- dependencies --------------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_chain_of_three_runs_in_order(self, omniq: Any, worker_type: str,
                                                tmp_path: Path) -> None:
        log = str(tmp_path / "order")
        async with running_worker(omniq, worker_type):
            # Enqueued while the worker runs, the later links are free to be claimed at once:
            # only their dependencies hold them back.
            first = await omniq.enqueue(_tasks.sleep_then_touch, str(tmp_path / "m"), 0.2)
            a = await omniq.enqueue(_tasks.append, log, "a", depends_on=[first])
            b = await omniq.enqueue(_tasks.append, log, "b", depends_on=[a])
            c = await omniq.enqueue(_tasks.append, log, "c", depends_on=[b])
            assert await omniq.get_result(c, timeout=WAIT) == "c"
        assert Path(log).read_text() == "abc"

    @pytest.mark.anyio
    async def test_failing_first_link_cancels_the_rest(self, omniq: Any, worker_type: str,
                                                       tmp_path: Path) -> None:
        log = tmp_path / "order"
        async with running_worker(omniq, worker_type):
            first = await omniq.enqueue(_tasks.fail, "first link broke")
            second = await omniq.enqueue(_tasks.append, str(log), "b", depends_on=[first])
            third = await omniq.enqueue(_tasks.append, str(log), "c", depends_on=[second])
            with pytest.raises(TaskFailedError):
                await omniq.get_result(first, timeout=WAIT)
            for task_id in (second, third):
                with pytest.raises(TaskCancelledError):
                    await omniq.get_result(task_id, timeout=WAIT)
                await wait_for_event(omniq, task_id, EventType.CANCELLED)
        assert not log.exists()

    # -- callbacks -----------------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_callback_runs_with_the_result(self, omniq: Any, worker_type: str,
                                                 tmp_path: Path) -> None:
        out = tmp_path / "callback"
        async with running_worker(omniq, worker_type):
            task_id = await omniq.enqueue(_tasks.add, 20, 22, callback=_tasks.record_callback,
                                          callback_args={"path": str(out)})
            assert await omniq.get_result(task_id, timeout=WAIT) == 42
            await eventually(out.exists, what="the callback to run")
        assert out.read_text() == "42"

    @pytest.mark.anyio
    async def test_failing_callback_does_not_fail_the_task(self, omniq: Any,
                                                           worker_type: str) -> None:
        async with running_worker(omniq, worker_type):
            task_id = await omniq.enqueue(_tasks.add, 1, 2, callback=_tasks.failing_callback)
            assert await omniq.get_result(task_id, timeout=WAIT) == 3
            await wait_for_event(omniq, task_id, EventType.CALLBACK_ERROR)
        assert (await omniq.get_task(task_id)).status == TaskStatus.COMPLETED

    # -- progress ------------------------------------------------------------------------------
    @pytest.mark.anyio
    @pytest.mark.parametrize("coroutine", [False, True], ids=["sync", "async"])
    async def test_progress_is_visible_in_get_task(self, omniq: Any, worker_type: str,
                                                   tmp_path: Path, coroutine: bool) -> None:
        release = tmp_path / "release"
        func = _tasks.async_report_progress if coroutine else _tasks.report_progress
        async with running_worker(omniq, worker_type):
            task_id = await omniq.enqueue(func, str(release), {"done": 5, "of": 10})

            async def progress() -> Any:
                task = await omniq.get_task(task_id)
                return task.progress if task.status == TaskStatus.RUNNING else None

            assert await eventually(progress, timeout=WAIT, what="progress") == {"done": 5,
                                                                                 "of": 10}
            release.write_text("go")
            assert await omniq.get_result(task_id, timeout=WAIT) == "released"

    @pytest.mark.anyio
    async def test_task_can_extend_its_own_lease(self, omniq: Any, worker_type: str,
                                                 tmp_path: Path) -> None:
        release = tmp_path / "release"
        lease = leases(0.3)
        async with running_worker(omniq, worker_type, lease=lease):
            task_id = await omniq.enqueue(_tasks.extend_own_lease, str(release), 60)

            async def extended() -> bool:
                task = await omniq.get_task(task_id)
                return task.lease_expires_at is not None and \
                    task.lease_expires_at - moment() > timedelta(seconds=50)

            await eventually(extended, timeout=WAIT, what="the lease to be extended")
            # Heartbeats (every third of the lease) keep renewing; watched over several of
            # them, the extension must hold throughout.
            for _ in range(25):
                assert await extended(), "a heartbeat shortened the lease the task extended"
                await anyio.sleep(lease / 15)
            release.write_text("go")
            assert await omniq.get_result(task_id, timeout=WAIT) == "extended"
        assert (await omniq.get_task(task_id)).attempts == 1

    # -- security ------------------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_payload_with_a_flipped_bit_is_refused(self, omniq: Any, worker_type: str,
                                                         tmp_path: Path) -> None:
        marker = tmp_path / "ran"
        q = omniq.task_queue
        task_id = await omniq.enqueue(_tasks.touch, str(marker))
        task = await q.get_task(task_id)
        payload = bytearray(task.payload)
        payload[len(payload) // 2] ^= 0x04
        forged = msgspec.structs.replace(task, payload=bytes(payload))
        assert await q.update_task(forged, expect_status={TaskStatus.PENDING})
        async with running_worker(omniq, worker_type):
            with pytest.raises(TaskFailedError):
                await omniq.get_result(task_id, timeout=WAIT)
            await wait_for_event(omniq, task_id, EventType.REJECTED)
        assert not marker.exists()
        assert [t.id for t in await omniq.dead_letters()] == [task_id]
        assert EventType.EXECUTING not in [e.type for e in await events_of(omniq, task_id)]

    # -- leases, queues, stopping --------------------------------------------------------------
    @pytest.mark.anyio
    async def test_heartbeats_keep_a_long_task_leased(self, omniq: Any, worker_type: str,
                                                      tmp_path: Path) -> None:
        marker = str(tmp_path / "long")
        lease = leases(0.4)
        async with running_worker(omniq, worker_type, lease=lease):
            # Blocks (no await) for three leases: only heartbeats from the loop keep it.
            task_id = await omniq.enqueue(_tasks.sleep_then_touch, marker, 3 * lease, "kept")
            assert await omniq.get_result(task_id, timeout=WAIT) == "kept"
        task = await omniq.get_task(task_id)
        assert task.attempts == 1 and task.redeliveries == 0
        assert await events_of(omniq, task_id, EventType.LEASE_EXPIRED) == []

    @pytest.mark.anyio
    async def test_worker_serves_queues_in_priority_order(self, omniq: Any, worker_type: str,
                                                          tmp_path: Path) -> None:
        log = str(tmp_path / "order")
        ids = [await omniq.enqueue(_tasks.append, log, "L", queue_name="low") for _ in range(3)]
        ids += [await omniq.enqueue(_tasks.append, log, "H", queue_name="high")
                for _ in range(3)]
        ids += [await omniq.enqueue(_tasks.append, log, "h", queue_name="high", priority=5)]
        async with running_worker(omniq, worker_type, queues=["high", "low"], max_workers=1):
            for task_id in ids:
                await omniq.get_result(task_id, timeout=WAIT)
        assert Path(log).read_text() == "hHHHLLL"

    @pytest.mark.anyio
    async def test_graceful_stop_lets_running_tasks_finish(self, omniq: Any, worker_type: str,
                                                           tmp_path: Path) -> None:
        marker = str(tmp_path / "slow")
        await omniq.start_worker(worker_type, max_workers=2, lease=leases(1), poll_interval=0.05)
        try:
            task_id = await omniq.enqueue(_tasks.sleep_then_touch, marker, 0.5, "finished")
            await eventually(lambda: Path(marker + ".started").exists(), timeout=WAIT,
                             what="the task to start")
        finally:
            await omniq.stop_worker(timeout=10)
        # stop returned after the task finished and its result was written.
        assert (await omniq.get_task(task_id)).status == TaskStatus.COMPLETED
        assert await omniq.get_result(task_id, timeout=0) == "finished"
        # A stopped worker claims nothing more.
        idle = await omniq.enqueue(_tasks.identity, "idle")
        assert (await omniq.get_task(idle)).status == TaskStatus.PENDING

    @pytest.mark.anyio
    async def test_stop_puts_back_what_did_not_finish_in_the_grace_period(
            self, omniq: Any, worker_type: str, tmp_path: Path) -> None:
        marker = str(tmp_path / "slow")
        await omniq.start_worker(worker_type, max_workers=1, lease=30.0, poll_interval=0.05)
        try:
            task_id = await omniq.enqueue(_tasks.sleep_then_touch, marker, 1.5)
            await eventually(lambda: Path(marker + ".started").exists(), timeout=WAIT,
                             what="the task to start")
        finally:
            await omniq.stop_worker(timeout=0.1)
        # Back in the queue at once, not after its 30 s lease.
        task = await omniq.get_task(task_id)
        assert task.status == TaskStatus.PENDING and task.worker_id is None
        [again] = await omniq.task_queue.claim(["default"], worker_id="kit", lease=5,
                                               now=moment())
        assert again.id == task_id and again.attempts == 2



def _logged(caplog: pytest.LogCaptureFixture, task_id: str, words: str) -> Any:
    """The first record logged about ``task_id`` that says ``words``, or None."""
    return next((r for r in caplog.records
                 if task_id in r.getMessage() and words in r.getMessage()), None)
