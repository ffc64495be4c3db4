"""Several worker processes on one SQLite file: each task runs once; a killed worker's task
runs again after its lease.

Executions are counted from the per-process logs the tasks append to (tasks_sqlite), not
from what the queue reports.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from omniq import AsyncOmniQ
from omniq.models import TaskStatus
from tasks_sqlite import read_logs, record, slow_record
from worker_processes import LocalWorkers

pytestmark = [pytest.mark.slow, pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Workers(LocalWorkers):
    """Worker processes (``sqlite_worker.py``) on one database file."""

    def __init__(self, database: str, project: str) -> None:
        super().__init__("sqlite_worker.py", database, project)


@pytest.fixture
def workers(tmp_path: Path, project_name: str) -> Iterator[Workers]:
    group = Workers(str(tmp_path / "shared.db"), project_name)
    yield group
    group.stop()


@pytest.fixture
def out_dir(tmp_path: Path) -> str:
    path = tmp_path / "runs"
    path.mkdir()
    return str(path)


async def wait_completed(oq: AsyncOmniQ, count: int, timeout: float) -> None:
    with anyio.fail_after(timeout):
        while await oq.task_queue.count_tasks(status=TaskStatus.COMPLETED) < count:
            await anyio.sleep(0.1)


async def test_four_workers_run_5000_tasks_exactly_once(workers: Workers, out_dir: str) -> None:
    async with AsyncOmniQ(project_name=workers.project, backend_type="sqlite",
                          database_path=workers.location) as oq:
        for _ in range(4):  # all running before the work arrives, so all of them share it
            workers.start(concurrency=8, lease=30.0)
        ids = await oq.enqueue_many(record, [(n, out_dir) for n in range(5000)])
        assert len(set(ids)) == 5000
        await wait_completed(oq, 5000, timeout=60)
        workers.stop()
        assert await oq.task_queue.count_tasks(status=TaskStatus.COMPLETED) == 5000
        assert await oq.get_result(ids[4321], timeout=5) == 4321

    logs = read_logs(out_dir)
    runs = Counter(line for lines in logs.values() for line in lines)
    assert sorted(runs) == sorted(f"done {n}" for n in range(5000))
    assert set(runs.values()) == {1}, [k for k, v in runs.items() if v > 1][:10]
    assert len([pid for pid, lines in logs.items() if lines]) >= 2  # the work was shared


async def test_task_of_a_killed_worker_runs_again_after_its_lease(workers: Workers,
                                                                   out_dir: str) -> None:
    async with AsyncOmniQ(project_name=workers.project, backend_type="sqlite",
                          database_path=workers.location) as oq:
        slow_id = await oq.enqueue(slow_record, 0, out_dir, 1.5)
        victim = workers.start(concurrency=1, lease=1.0)
        with anyio.fail_after(20):  # the victim is in the middle of the slow task
            while "start 0" not in read_logs(out_dir).get(victim.pid, []):
                await anyio.sleep(0.02)
        victim.send_signal(signal.SIGKILL)  # at once: a loaded machine could let it finish
        victim.wait()
        quick = await oq.enqueue_many(record, [(n, out_dir) for n in range(1, 301)])
        survivor = workers.start(concurrency=4, lease=1.0)

        assert await oq.get_result(slow_id, timeout=30) == 0
        await wait_completed(oq, 301, timeout=30)
        task = await oq.get_task(slow_id)
        assert task is not None and task.status == TaskStatus.COMPLETED
        assert task.redeliveries == 1 and task.attempts == 2
        assert [await oq.get_result(i, timeout=5) for i in quick[:3]] == [1, 2, 3]

    logs = read_logs(out_dir)
    assert logs[victim.pid] == ["start 0"]  # killed mid-task: it never finished there
    assert logs[survivor.pid].count("start 0") == 1
    runs = Counter(line for lines in logs.values() for line in lines)
    assert runs["done 0"] == 1
    assert all(runs[f"done {n}"] == 1 for n in range(1, 301))
    assert sum(runs.values()) == 303  # two starts of the slow task, 301 completions
