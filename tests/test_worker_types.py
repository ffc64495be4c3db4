"""Writing a worker type through the public extension points, and what workers log about
themselves (start and stop lines, lost leases) on the memory, sqlite and postgres backends."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from omniq import AsyncOmniQ, CancelOutcome, TaskCancelledError, TaskFailedError
from omniq.models import Task, TaskStatus
from omniq.queue.memory import AsyncMemoryTaskQueue
from omniq.serialization import Call
from omniq.storage.memory import AsyncMemoryResultStore
from omniq.testing import _tasks
from omniq.workers import AsyncWorkerBase, TaskContext
from omniq_postgres import AsyncPostgresTaskQueue
from omniq_sqlite import AsyncSQLiteTaskQueue

pytestmark = pytest.mark.anyio
FAST = {"lease": 30.0, "poll_interval": 0.05, "maintenance_interval": 0.05}


class InlineWorker(AsyncWorkerBase):
    """A third-party worker type: only public names, one thread per sync task."""

    worker_type = "inline"

    async def start_pool(self) -> None:
        self.started = True

    async def stop_pool(self) -> None:
        self.started = False

    async def execute(self, call: Call, task: Task, ctx: TaskContext) -> Any:
        if inspect.iscoroutinefunction(call.func):
            return await call.func(*call.args, **call.kwargs)
        run = functools.partial(contextvars.copy_context().run, call.func, *call.args,
                                **call.kwargs)
        return await asyncio.to_thread(run)

    async def cancel_running(self, task_id: str) -> str:
        return "the inline worker let it go"


@pytest.fixture
async def omniq(project_name: str) -> AsyncIterator[AsyncOmniQ]:
    async with AsyncOmniQ(project_name=project_name,
                          task_queue=AsyncMemoryTaskQueue(project_name=project_name),
                          result_store=AsyncMemoryResultStore(project_name=project_name)) as oq:
        yield oq


async def test_a_worker_type_written_on_the_public_base_runs_and_cancels_tasks(
        omniq: AsyncOmniQ, tmp_path: Path) -> None:
    worker = InlineWorker(omniq.task_queue, omniq.result_store, max_workers=2, **FAST)
    await worker.start()
    try:
        assert worker.started
        assert await omniq.get_result(await omniq.enqueue(_tasks.add, 2, 3), timeout=10) == 5
        assert await omniq.get_result(await omniq.enqueue(_tasks.async_add, 1, 1),
                                      timeout=10) == 2
        with pytest.raises(TaskFailedError):
            await omniq.get_result(await omniq.enqueue(_tasks.fail, "no"), timeout=10)
        marker = str(tmp_path / "long")
        long = await omniq.enqueue(_tasks.async_sleep_then_touch, marker, 30)
        while not Path(marker + ".started").exists():
            await asyncio.sleep(0.02)
        assert await omniq.cancel(long) == CancelOutcome.REQUESTED
        with pytest.raises(TaskCancelledError) as info:
            await omniq.get_result(long, timeout=5)
        assert "the inline worker let it go" in (info.value.reason or "")
        assert (await omniq.get_task(long)).status == TaskStatus.CANCELLED
    finally:
        await worker.stop(5)
    assert not worker.started


def test_a_worker_type_must_implement_every_extension_point() -> None:
    class Incomplete(AsyncWorkerBase):
        async def execute(self, call: Call, task: Task, ctx: TaskContext) -> Any:
            return None

    queue = AsyncMemoryTaskQueue(project_name="incomplete")
    with pytest.raises(TypeError) as info:
        Incomplete(queue)
    for name in ("start_pool", "stop_pool", "cancel_running"):
        assert name in str(info.value)


@pytest.mark.parametrize("worker_type", ["async", "thread_pool", "process_pool"])
async def test_start_and_stop_lines_say_what_the_worker_serves(
        project_name: str, tmp_path: Path, worker_type: str,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="omniq.worker")
    queue = AsyncSQLiteTaskQueue(project_name=project_name, url=f"sqlite:///{tmp_path}/q.db",
                                 queues=["high", "low"])
    async with AsyncOmniQ(project_name=project_name, task_queue=queue) as omniq:
        await omniq.start_worker(worker_type, max_workers=3, **FAST)
        await omniq.stop_worker(timeout=5)
    [start] = [r for r in caplog.records if " started: " in r.getMessage()]
    [stop] = [r for r in caplog.records if " stopped: " in r.getMessage()]
    line = start.getMessage()
    assert start.levelno == stop.levelno == logging.INFO
    assert "backend sqlite" in line and str(tmp_path / "q.db") in line
    assert f"project {project_name}" in line and "queues high, low, default" in line
    assert f"worker type {worker_type}" in line and "concurrency 3" in line
    assert "events off (no event store configured)" in line
    assert f"worker type {worker_type}" in stop.getMessage()


async def test_a_worker_given_queues_serves_default_after_them(omniq: AsyncOmniQ) -> None:
    # A task enqueued without a queue name is never stranded (it stayed pending for ever).
    worker = await omniq.start_worker("async", queues=["high"], **FAST)
    assert worker.queues == ["high", "default"]
    assert await omniq.get_result(await omniq.enqueue(_tasks.add, 1, 2), timeout=10) == 3
    await omniq.stop_worker()
    worker = await omniq.start_worker("async", queues="default, high", **FAST)
    assert worker.queues == ["default", "high"]  # listed: where it was put
    await omniq.stop_worker()


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (exited, or a zombie not yet reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except (FileNotFoundError, ProcessLookupError):
        return True


@pytest.mark.parametrize("worker_type", ["async", "thread_pool", "process_pool"])
async def test_a_task_past_the_grace_period_is_put_back_with_a_warning(
        omniq: AsyncOmniQ, worker_type: str, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="omniq.worker")
    marks = tmp_path / "task"  # it writes task.pid, then runs until cancelled or killed
    pid_file = tmp_path / "task.pid"
    task_id = await omniq.enqueue(_tasks.wait_for_cancel, str(marks))
    await omniq.start_worker(worker_type, max_workers=1, **FAST)
    with anyio.fail_after(20):
        while not pid_file.exists():
            await asyncio.sleep(0.05)
    await omniq.stop_worker(timeout=0.5)
    [warning] = [r for r in caplog.records if "grace period" in r.getMessage()]
    assert warning.levelno == logging.WARNING and task_id in warning.getMessage()
    assert "put back" in warning.getMessage()
    assert (await omniq.get_task(task_id)).status == TaskStatus.PENDING
    if worker_type == "process_pool":  # its child is killed, not left running on
        pid = int(pid_file.read_text())
        with anyio.fail_after(10):
            while not _gone(pid):
                await asyncio.sleep(0.05)


async def test_start_line_hides_the_password_of_the_backend_url(
        project_name: str, postgres_dsn: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="omniq.worker")
    # The server trusts local connections, so any password connects; it must not be logged.
    url = postgres_dsn.replace("postgres@", "postgres:s3cret-pw@")
    queue = AsyncPostgresTaskQueue(project_name=project_name, url=url)
    async with AsyncOmniQ(project_name=project_name, task_queue=queue) as omniq:
        await omniq.start_worker("async", max_workers=1, **FAST)
        await omniq.stop_worker(timeout=5)
    [start] = [r.getMessage() for r in caplog.records if " started: " in r.getMessage()]
    assert "backend postgres" in start and "postgres:***@127.0.0.1" in start, start
    assert "s3cret-pw" not in caplog.text


async def test_poison_pill_is_logged_as_a_warning(
        omniq: AsyncOmniQ, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="omniq.worker")
    queue = omniq.task_queue
    task_id = await omniq.enqueue(_tasks.identity, 1, max_deliveries=1)
    # A worker that died holding the task: its lease is already over.
    [claimed] = await queue.claim(["default"], worker_id="dead", lease=0.01,
                                  now=(await queue.get_task(task_id)).run_at)
    assert claimed.id == task_id
    worker = InlineWorker(omniq.task_queue, omniq.result_store, **FAST)
    await worker.start()
    try:
        for _ in range(200):
            if any(task_id in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.02)
    finally:
        await worker.stop(5)
    [record] = [r for r in caplog.records if task_id in r.getMessage()]
    assert record.levelno == logging.WARNING and "poison pill" in record.getMessage()
    assert (await omniq.get_task(task_id)).status == TaskStatus.FAILED


class SlowLeaseQueue(AsyncMemoryTaskQueue):
    """Holds every lease extension until ``release`` is set: a store that is slow to answer."""

    release: asyncio.Event

    async def renew_lease(self, task_id: str, attempts: int,
                          expires_at: datetime) -> Task | None:
        await self.release.wait()
        return await super().renew_lease(task_id, attempts, expires_at)


async def test_cancel_before_the_task_code_starts_finishes_it_as_cancelled(
        project_name: str, tmp_path: Path) -> None:
    queue = SlowLeaseQueue(project_name=project_name)
    queue.release = asyncio.Event()
    async with AsyncOmniQ(project_name=project_name, task_queue=queue,
                          result_store=AsyncMemoryResultStore(project_name=project_name)) as oq:
        worker = InlineWorker(queue, oq.result_store, **FAST)
        await worker.start()
        try:
            # A timeout longer than the lease: the worker extends the lease before running it.
            task_id = await oq.enqueue(_tasks.touch, str(tmp_path / "ran"), timeout=100)
            while (await oq.get_task(task_id)).status != TaskStatus.RUNNING:
                await asyncio.sleep(0.02)
            assert await oq.cancel(task_id) == CancelOutcome.REQUESTED
            with pytest.raises(TaskCancelledError):
                await oq.get_result(task_id, timeout=5)
        finally:
            queue.release.set()
            await worker.stop(5)
    assert not (tmp_path / "ran").exists()
