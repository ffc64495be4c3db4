"""Worker processes on NATS: exactly-once completion across processes, a worker killed
mid-task, and a private server restarted mid-run. Executions are counted from files the task
functions append to (``tasks_redis`` holds those functions; nothing in them is Redis's), not
from what the store says.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
import tasks_redis
from nats_server import NATSServer
from omniq.exceptions import BackendUnavailableError
from omniq.models import TaskStatus
from omniq.testing import eventually
from omniq_nats import AsyncNATSTaskQueue
from worker_processes import ServerWorkers, executions

pytestmark = [pytest.mark.nats, pytest.mark.slow]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clean(nats_url: str, project_name: str) -> Iterator[None]:
    yield

    async def drop() -> None:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        for name in (f"KV_omniq_{project_name}_tasks", f"KV_omniq_{project_name}_results"):
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await js.delete_stream(name)
        await nc.close()

    asyncio.run(drop())

#: 5,000 in the suite; ``OMNIQ_SOAK_TASKS=20000`` for the full form (about 50 s more).
SOAK_TASKS = int(os.environ.get("OMNIQ_SOAK_TASKS", "5000"))


@pytest.fixture
def workers() -> Iterator[ServerWorkers]:
    started = ServerWorkers("nats_worker.py")
    yield started
    started.stop()



async def all_completed(queue: AsyncNATSTaskQueue, n: int) -> bool:
    return await queue.count_tasks(status=TaskStatus.COMPLETED) >= n


@pytest.mark.anyio
@pytest.mark.usefixtures("clean")
async def test_four_workers_complete_every_task_exactly_once(
        nats_url: str, project_name: str, tmp_path: Path, workers: ServerWorkers) -> None:
    n = SOAK_TASKS
    out = tmp_path / "runs"
    out.mkdir()
    async with AsyncNATSTaskQueue(url=nats_url, project_name=project_name) as queue:
        await queue.enqueue_many(tasks_redis.record, [(i, str(out)) for i in range(n)])
        for _ in range(4):
            workers.start(nats_url, project_name, max_workers=10)
        await eventually(lambda: all_completed(queue, n), timeout=240, interval=0.5,
                         what=f"{n} tasks to complete")
        workers.stop()
        assert await queue.count_tasks(status=TaskStatus.RUNNING) == 0
    runs = executions(out)
    assert set(runs) == {f"run {i}" for i in range(n)} and set(runs.values()) == {1}
    assert len(list(out.glob("*.log"))) > 1  # the work was shared


@pytest.mark.anyio
@pytest.mark.usefixtures("clean")
async def test_a_task_of_a_killed_worker_runs_again_after_its_lease(
        nats_url: str, project_name: str, tmp_path: Path, workers: ServerWorkers) -> None:
    out = tmp_path / "runs"
    out.mkdir()
    async with AsyncNATSTaskQueue(url=nats_url, project_name=project_name) as queue:
        victim = workers.start(nats_url, project_name, max_workers=1, lease=2.0)
        stalled = await queue.enqueue(tasks_redis.stall_once, str(out), 60.0)
        await eventually(lambda: (out / "stalled").exists(), what="the task to start")
        workers.start(nats_url, project_name, max_workers=4, lease=2.0)
        await queue.enqueue_many(tasks_redis.record, [(i, str(out)) for i in range(100)])
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        killed_at = time.monotonic()
        await eventually(lambda: all_completed(queue, 101), timeout=30,
                         what="every task, the killed worker's too")
        assert time.monotonic() - killed_at > 0.5  # it waited for the lease to run out
        task = await queue.get_task(stalled)
        assert task is not None and task.status == TaskStatus.COMPLETED
        assert (task.attempts, task.redeliveries) == (2, 1)
    runs = executions(out)
    assert runs["start stall"] == 2 and runs["done stall"] == 1
    assert (out / f"{victim.pid}.log").read_text().splitlines() == ["start stall"]


@pytest.mark.anyio
async def test_workers_ride_out_a_server_restart_and_nothing_acknowledged_is_lost(
        tmp_path: Path, workers: ServerWorkers) -> None:
    server = NATSServer(tmp_path / "js")
    server.start()
    out = tmp_path / "runs"
    out.mkdir()
    try:
        async with AsyncNATSTaskQueue(url=server.url, project_name="restart") as queue:
            first = await queue.enqueue_many(tasks_redis.record,
                                             [(i, str(out)) for i in range(300)])
            workers.start(server.url, "restart", max_workers=4, lease=3.0)
            server.kill()
            time.sleep(0.5)
            server.start()
            # Built once, so a retried enqueue stores each task once (idempotent by id).
            second = [queue.build_task(tasks_redis.record, i, str(out)) for i in range(300, 600)]
            deadline = time.monotonic() + 30
            while True:
                try:
                    await queue.enqueue_tasks(second)
                    break
                except BackendUnavailableError:  # the client is still reconnecting
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.2)
            assert len(first) == 300
            await eventually(lambda: all_completed(queue, 600), timeout=60, interval=0.2,
                             what="every acknowledged task after the restart")
        runs = executions(out)
        assert set(runs) == {f"run {i}" for i in range(600)}
    finally:
        workers.stop()
        server.kill()
