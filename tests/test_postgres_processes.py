"""Several worker processes on one PostgreSQL queue: every task runs exactly once, and a worker
killed mid-task loses its task only until its lease runs out.

Executions are counted from the workers' own evidence (tasks_postgres.record appends to a file
per process), not from what the store says.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import asyncpg
import pytest
import tasks_postgres
from omniq import AsyncOmniQ
from omniq.models import TaskStatus
from omniq_postgres import AsyncPostgresBackend

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.anyio]

TESTS = Path(__file__).resolve().parent
WORKER = TESTS / "postgres_worker.py"


class Workers:
    """Worker processes of one test; each is stopped (and only those) at the end."""

    def __init__(self, dsn: str, project: str, record_dir: Path, log_dir: Path) -> None:
        self.dsn, self.project, self.record_dir, self.log_dir = dsn, project, record_dir, log_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "OMNIQ_PG_RECORD_DIR": str(self.record_dir),
               "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
        log = open(self.log_dir / f"worker{len(self.procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen([sys.executable, str(WORKER), self.dsn, self.project, *args],
                                env=env, stdout=subprocess.PIPE, stderr=log)
        self.procs.append(proc)
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline() if ready else b""
        if line.strip() != b"ready":
            proc.kill()
            pytest.fail(f"worker did not start: {(self.log_dir / log.name).read_text()}")
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def executions(self) -> Counter[str]:
        """Lines recorded by every process, counted."""
        lines: Counter[str] = Counter()
        for path in self.record_dir.glob("*.log"):
            lines.update(path.read_text().split("\n")[:-1])
        return lines


@pytest.fixture
async def app(postgres_dsn: str, project_name: str) -> AsyncIterator[AsyncOmniQ]:
    async with AsyncOmniQ(backend=AsyncPostgresBackend(project_name=project_name,
                                                       url=postgres_dsn)) as oq:
        yield oq
    conn = await asyncpg.connect(postgres_dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "omniq_{project_name}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
def workers(tmp_path: Path, postgres_dsn: str, project_name: str) -> Iterator[Workers]:
    (tmp_path / "records").mkdir()
    group = Workers(postgres_dsn, project_name, tmp_path / "records", tmp_path)
    yield group
    group.stop()


async def _completed(app: AsyncOmniQ, n: int, timeout: float) -> None:
    with anyio.fail_after(timeout):
        while await app.task_queue.count_tasks(status=TaskStatus.COMPLETED) < n:
            await anyio.sleep(0.2)


async def test_four_workers_run_20000_tasks_each_exactly_once(app: AsyncOmniQ,
                                                              workers: Workers) -> None:
    total = 20_000
    for _ in range(4):
        workers.start("--concurrency", "20")
    await app.enqueue_many(tasks_postgres.record, range(total))
    await _completed(app, total, 50)
    workers.stop()
    runs = workers.executions()
    assert len(runs) == total and set(runs) == {str(i) for i in range(total)}
    assert max(runs.values()) == 1, f"ran twice: {[k for k, v in runs.items() if v > 1][:10]}"
    assert len(list(workers.record_dir.glob("*.log"))) >= 2  # the work was shared
    db = await app.result_store._db()
    assert await db.fetchval(f'SELECT count(*) FROM "{app.result_store.schema}".omniq_results') \
        == total
    assert await app.task_queue.count_tasks(status=TaskStatus.RUNNING) == 0


async def test_a_worker_killed_mid_task_loses_it_until_the_lease_runs_out(
        app: AsyncOmniQ, workers: Workers) -> None:
    first = workers.start("--lease", "2")
    task_id = await app.enqueue(tasks_postgres.record_then_sleep, 7, 60)
    with anyio.fail_after(20):
        while workers.executions()["start 7"] < 1:
            await anyio.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    stuck = await app.get_task(task_id)
    assert stuck.status == TaskStatus.RUNNING and stuck.attempts == 1
    workers.start("--lease", "2")
    assert await app.get_result(task_id, timeout=30) == 7
    runs = workers.executions()
    assert runs["start 7"] == 2 and runs["done 7"] == 1
    files = {p.name: p.read_text() for p in workers.record_dir.glob("*.log")}
    assert files[f"{first.pid}.log"] == "start 7\n"  # the killed attempt never finished
    task = await app.get_task(task_id)
    assert task.status == TaskStatus.COMPLETED and task.attempts == 2 and task.redeliveries == 1
