"""What a task's own code can do wrong ends that task, never its worker: a return value that
cannot be stored, ``sys.exit()``, ``KeyboardInterrupt`` or another ``BaseException`` raised
inside it. Each fails (or dead-letters) the task with its reason, and the same worker runs the
next task: on engines that write a result with its task's completion (SQLite, Redis) and on
those that write it apart (memory, PostgreSQL), and in every core worker type. A result the
store refuses is given up alone, with an ERROR, and later tasks complete."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest
from omniq import AsyncOmniQ, TaskFailedError
from omniq.contract import ResultRecord
from omniq.exceptions import BackendError
from omniq.models import TaskStatus
from omniq.storage.memory import AsyncMemoryResultStore
from omniq.testing import _tasks

pytestmark = pytest.mark.anyio
FAST = {"lease": 30.0, "poll_interval": 0.05, "maintenance_interval": 0.05}


class Unusual(BaseException):
    """Neither an Exception nor an exit: still the task's own failure."""


def returns_a_generator() -> Any:
    return (i for i in range(3))


def exits() -> None:
    sys.exit("bad config")


def interrupted() -> None:
    raise KeyboardInterrupt


def unusual() -> None:
    raise Unusual("odd")


async def exits_async() -> None:
    sys.exit(3)


MISBEHAVIOURS = [(returns_a_generator, "SerializationError", "its return value cannot be "
                  "stored"), (exits, "SystemExit", "bad config"),
                 (interrupted, "KeyboardInterrupt", ""), (unusual, "Unusual", "odd"),
                 (exits_async, "SystemExit", "3")]


@pytest.fixture(params=["memory", "sqlite", "redis", "postgres"])
async def oq(request: pytest.FixtureRequest, project_name: str,
             tmp_path: Path) -> AsyncIterator[AsyncOmniQ]:
    url = {"memory": None, "sqlite": f"sqlite:///{tmp_path}/tasks.db",
           "redis": request.getfixturevalue("redis_url") if request.param == "redis" else None,
           "postgres": request.getfixturevalue("postgres_dsn")
           if request.param == "postgres" else None}[request.param]
    options = {"backend_type": "memory"} if url is None else {"url": url}
    async with AsyncOmniQ(project_name=project_name, **options) as client:
        yield client


async def test_a_misbehaving_task_fails_alone_and_the_worker_goes_on(oq: AsyncOmniQ) -> None:
    await oq.start_worker(worker_type="async", max_workers=4, **FAST)
    try:
        for func, error_type, message in MISBEHAVIOURS:
            task_id = await oq.enqueue(func, max_retries=0)
            with pytest.raises(TaskFailedError) as failed:
                await oq.get_result(task_id, timeout=10)
            assert failed.value.exc_type == error_type, func.__name__
            assert message in failed.value.message, func.__name__
            assert (await oq.get_task(task_id)).status == TaskStatus.FAILED
            # The same worker, still alive, runs the next task.
            assert await oq.get_result(await oq.enqueue(_tasks.add, 2, 3), timeout=10) == 5
        assert oq.worker is not None and oq.worker.is_running
    finally:
        await oq.stop_worker()


@pytest.mark.parametrize("worker_type", ["thread_pool", "process_pool"])
async def test_in_threads_and_processes_too(project_name: str, worker_type: str) -> None:
    async with AsyncOmniQ(project_name=project_name, backend_type="memory") as oq:
        await oq.start_worker(worker_type=worker_type, max_workers=2, **FAST)
        try:
            for func, error_type, _ in MISBEHAVIOURS[:4]:
                task_id = await oq.enqueue(func, max_retries=0)
                with pytest.raises(TaskFailedError) as failed:
                    await oq.get_result(task_id, timeout=20)
                assert failed.value.exc_type == error_type, func.__name__
            assert await oq.get_result(await oq.enqueue(_tasks.add, 1, 1), timeout=20) == 2
        finally:
            await oq.stop_worker()


def starts_then_sleeps(ledger: str, seconds: float) -> str:
    with open(ledger, "a") as file:
        file.write("start\n")
    time.sleep(seconds)
    return "done"


def dies_hard() -> None:
    os._exit(7)


async def test_a_process_pool_task_that_dies_or_is_cancelled_takes_no_bystander(
        project_name: str, tmp_path: Path) -> None:
    # A pool cannot kill one of its jobs: killing it for a cancel (or a timeout), or a task's
    # process dying, broke the whole pool, and the tasks beside it started over from the
    # beginning, without a word.
    async with AsyncOmniQ(project_name=project_name, backend_type="memory") as oq:
        await oq.start_worker(worker_type="process_pool", max_workers=3, **FAST)
        try:
            bystander_ledger, victim_ledger = tmp_path / "bystander", tmp_path / "victim"
            bystander = await oq.enqueue(starts_then_sleeps, str(bystander_ledger), 3.0)
            victim = await oq.enqueue(starts_then_sleeps, str(victim_ledger), 60.0)
            with anyio.fail_after(20):
                while not (bystander_ledger.exists() and victim_ledger.exists()):
                    await anyio.sleep(0.05)
            pill = await oq.enqueue(dies_hard, max_retries=0)
            with pytest.raises(TaskFailedError) as failed:
                await oq.get_result(pill, timeout=20)
            assert failed.value.exc_type == "ProcessExitedError"
            assert "the tasks beside it ran on" in failed.value.message
            await oq.cancel(victim)
            with anyio.fail_after(20):
                while (await oq.get_task(victim)).status != TaskStatus.CANCELLED:
                    await anyio.sleep(0.05)
            assert await oq.get_result(bystander, timeout=20) == "done"
            assert bystander_ledger.read_text() == "start\n"  # it ran once, never restarted
            assert await oq.get_result(await oq.enqueue(_tasks.add, 1, 1), timeout=20) == 2
        finally:
            await oq.stop_worker()


def reports_progress_until_killed() -> None:
    from omniq import current_task

    task, step = current_task(), 0
    while True:
        task.set_progress({"step": step})
        step += 1


def reports_once_and_sleeps(pid_file: str, seconds: float) -> str:
    from omniq import current_task

    Path(pid_file).write_text(str(os.getpid()))
    current_task().set_progress({"started": True})
    current_task().extend_lease(30)
    time.sleep(seconds)
    return "done"


async def test_process_pool_children_killed_mid_report_or_interrupted_take_nothing_along(
        project_name: str, tmp_path: Path) -> None:
    # The children shared one queue to report progress: one killed while writing to it kept
    # its lock, and every later report, and the worker's stop, hung for good. A Ctrl-C, which
    # reaches the whole process group, ended the running tasks as failed (KeyboardInterrupt).
    async with AsyncOmniQ(project_name=project_name, backend_type="memory") as oq:
        await oq.start_worker(worker_type="process_pool", max_workers=2, **FAST)
        try:
            for _ in range(6):  # each cancel kills a child in the middle of its reports
                reporter = await oq.enqueue(reports_progress_until_killed)
                await anyio.sleep(0.3)
                await oq.cancel(reporter)
                with anyio.fail_after(20):
                    while (await oq.get_task(reporter)).status != TaskStatus.CANCELLED:
                        await anyio.sleep(0.05)
            pid_file = tmp_path / "child.pid"
            probe = await oq.enqueue(reports_once_and_sleeps, str(pid_file), 1.0)
            with anyio.fail_after(20):
                while not pid_file.exists() or not pid_file.read_text():
                    await anyio.sleep(0.05)
            os.kill(int(pid_file.read_text()), signal.SIGINT)  # as a terminal's Ctrl-C does
            assert await oq.get_result(probe, timeout=20) == "done"
            assert (await oq.get_task(probe)).progress == {"started": True}
        finally:
            with anyio.fail_after(30):
                await oq.stop_worker()


async def test_a_process_pool_child_dead_while_idle_fails_no_task(project_name: str) -> None:
    # The next task on its slot failed at once with ProcessExitedError, never having run.
    async with AsyncOmniQ(project_name=project_name, backend_type="memory") as oq:
        worker = await oq.start_worker(worker_type="process_pool", max_workers=2, **FAST)
        try:
            assert await oq.get_result(await oq.enqueue(_tasks.add, 1, 1), timeout=20) == 2
            children = [process for slot in list(worker._free_slots._queue)
                        for process in (slot.pool._processes or {}).values()]
            assert children
            for child in children:
                child.kill()
                child.join(5)
            ids = [await oq.enqueue(_tasks.add, n, 1, max_retries=0) for n in range(4)]
            assert [await oq.get_result(i, timeout=20) for i in ids] == [1, 2, 3, 4]
        finally:
            await oq.stop_worker()


class RefusingResultStore(AsyncMemoryResultStore):
    """Refuses results that say "refuse me", as an engine refuses one it cannot take."""

    async def put_blobs(self, records: Sequence[ResultRecord]) -> None:
        if any(b"refuse me" in r.blob for r in records):
            raise BackendError("the store refuses this result")
        await super().put_blobs(records)


async def test_a_result_the_store_refuses_is_given_up_and_later_tasks_complete(
        project_name: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="omniq.worker")
    store = RefusingResultStore(project_name=project_name)
    async with AsyncOmniQ(project_name=project_name, backend_type="memory",
                          result_store=store) as oq:
        await oq.start_worker(worker_type="async", max_workers=2, **FAST)
        try:
            refused = await oq.enqueue(_tasks.identity, "refuse me")
            assert await oq.get_result(await oq.enqueue(_tasks.add, 1, 2), timeout=20) == 3
            with anyio.fail_after(20):
                while "gave up" not in caplog.text:
                    await anyio.sleep(0.05)
            assert refused in caplog.text and "the store refuses this result" in caplog.text
            assert (await oq.get_task(refused)).status == TaskStatus.COMPLETED
        finally:
            await oq.stop_worker()
