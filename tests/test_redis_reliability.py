"""Worker processes on Redis: exactly-once completion at volume, a worker killed mid-task,
and the server itself restarted mid-run. Executions are counted from files the
task functions append to (``tasks_redis``), not from what the store says.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import tasks_redis
from omniq.exceptions import BackendUnavailableError
from omniq.models import TaskStatus
from omniq.testing import eventually
from omniq_redis import AsyncRedisTaskQueue
from tasks_redis import RedisServer
from worker_processes import ServerWorkers, executions

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clean(redis_url: str, project_name: str) -> Iterator[None]:
    yield
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"omniq:{{{project_name}}}:*", count=1000))
    for start in range(0, len(keys), 1000):
        client.unlink(*keys[start:start + 1000])
    client.close()


@pytest.fixture
def workers() -> Iterator[ServerWorkers]:
    started = ServerWorkers("redis_worker.py")
    yield started
    started.stop()



async def all_completed(queue: AsyncRedisTaskQueue, n: int) -> bool:
    return await queue.count_tasks(status=TaskStatus.COMPLETED) >= n


@pytest.mark.anyio
@pytest.mark.usefixtures("clean")
async def test_four_workers_complete_20000_tasks_exactly_once(
        redis_url: str, project_name: str, tmp_path: Path, workers: ServerWorkers) -> None:
    n = 20_000
    out = tmp_path / "runs"
    out.mkdir()
    async with AsyncRedisTaskQueue(url=redis_url, project_name=project_name) as queue:
        await queue.enqueue_many(tasks_redis.record, [(i, str(out)) for i in range(n)])
        for _ in range(4):
            workers.start(redis_url, project_name, max_workers=10)
        await eventually(lambda: all_completed(queue, n), timeout=50, interval=0.1,
                         what=f"{n} tasks to complete")
        workers.stop()
        assert await queue.count_tasks(status=TaskStatus.PENDING) == 0
        assert await queue.count_tasks(status=TaskStatus.RUNNING) == 0
    runs = executions(out)
    assert sum(runs.values()) == n
    assert set(runs) == {f"run {i}" for i in range(n)}
    assert set(runs.values()) == {1}
    assert len(list(out.glob("*.log"))) > 1  # the work was shared


@pytest.mark.anyio
@pytest.mark.usefixtures("clean")
async def test_a_task_of_a_killed_worker_runs_again_after_its_lease(
        redis_url: str, project_name: str, tmp_path: Path, workers: ServerWorkers) -> None:
    out = tmp_path / "runs"
    out.mkdir()
    async with AsyncRedisTaskQueue(url=redis_url, project_name=project_name) as queue:
        victim = workers.start(redis_url, project_name, max_workers=1, lease=2.0)
        stalled = await queue.enqueue(tasks_redis.stall_once, str(out), 60.0)
        await eventually(lambda: (out / "stalled").exists(), what="the task to start")
        assert (out / "stalled").read_text() == str(victim.pid)
        workers.start(redis_url, project_name, max_workers=4, lease=2.0)
        others = await queue.enqueue_many(tasks_redis.record, [(i, str(out)) for i in range(200)])
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        killed_at = time.monotonic()
        await eventually(lambda: all_completed(queue, 201), timeout=30,
                         what="every task, the killed worker's too")
        assert time.monotonic() - killed_at > 0.5  # it waited for the lease to run out
        task = await queue.get_task(stalled)
        assert task is not None and task.status == TaskStatus.COMPLETED
        assert (task.attempts, task.redeliveries) == (2, 1)
        assert [t.status for t in await queue.list_tasks(limit=300)].count(
            TaskStatus.COMPLETED) == 201
        assert len(others) == 200
    runs = executions(out)
    assert runs["start stall"] == 2 and runs["done stall"] == 1
    assert {line: count for line, count in runs.items() if line.startswith("run ")} == \
        {f"run {i}": 1 for i in range(200)}
    victim_log = out / f"{victim.pid}.log"
    assert victim_log.read_text().splitlines() == ["start stall"]


@pytest.mark.anyio
async def test_workers_ride_out_a_redis_restart_and_nothing_acknowledged_is_lost(
        tmp_path: Path, workers: ServerWorkers) -> None:
    server = RedisServer(tmp_path)
    server.start()
    out = tmp_path / "runs"
    out.mkdir()
    project = "restart"
    first, second = 2_000, 500
    try:
        queue = AsyncRedisTaskQueue(url=server.url, project_name=project,
                                    socket_connect_timeout=1.0)
        async with queue:
            acked = await queue.enqueue_many(tasks_redis.record_after,
                                             [(i, str(out), 0.02) for i in range(first)])
            for _ in range(2):
                workers.start(server.url, project, max_workers=10, lease=5.0)
            await eventually(lambda: queue.count_tasks(status=TaskStatus.COMPLETED),
                             what="the run to be under way")
            server.shutdown()
            with pytest.raises(BackendUnavailableError):
                await queue.enqueue(tasks_redis.record, -1, str(out))
            server.start()
            assert all(proc.poll() is None for proc in workers.procs)
            assert await queue.count_tasks(status=TaskStatus.COMPLETED) < first  # mid-run
            acked += await queue.enqueue_many(tasks_redis.record,
                                              [(i, str(out)) for i in range(first,
                                                                            first + second)])
            await eventually(lambda: all_completed(queue, first + second), timeout=60,
                             interval=0.1, what="every acknowledged task to complete")
            statuses = [(await queue.get_task(task_id)) for task_id in acked[::50]]
            assert all(t is not None and t.status == TaskStatus.COMPLETED for t in statuses)
    finally:
        workers.stop()
        server.stop()
    runs = executions(out)
    assert set(runs) == {f"run {i}" for i in range(first + second)}
    # At least once: only tasks that were running when the server went down may run twice.
    assert sum(runs.values()) - (first + second) <= 2 * 10
