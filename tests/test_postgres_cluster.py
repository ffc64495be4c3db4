"""Tests that need a PostgreSQL server of their own: password authentication, and a server
restarted under running workers.

The module starts a private cluster (initdb into a temporary directory, pg_ctl on a free
loopback port, scram-sha-256 passwords) and stops only that cluster at the end; the shared
server on 5432 is never touched.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

import anyio
import pytest
import tasks_postgres
from omniq import AsyncOmniQ
from omniq.exceptions import BackendError, BackendUnavailableError
from omniq.models import TaskStatus
from omniq.testing import _tasks
from omniq_postgres import AsyncPostgresBackend, AsyncPostgresTaskQueue
from test_postgres_processes import Workers

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.anyio]

PASSWORD = "omniq-test-pw"
T = TypeVar("T")


@dataclass
class Cluster:
    bindir: str
    data: str
    port: int

    def dsn(self, password: str = PASSWORD, database: str = "postgres") -> str:
        return f"postgresql://postgres:{password}@127.0.0.1:{self.port}/{database}"

    def pg_ctl(self, *args: str) -> None:
        _run([f"{self.bindir}/pg_ctl", "-D", self.data, "-w", "-t", "60", *args])

    def start(self) -> None:
        self.pg_ctl("-l", f"{self.data}/server.log", "-o",
                    f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1", "start")

    def postmaster_pid(self) -> int:
        return int(Path(self.data, "postmaster.pid").read_text().split()[0])

    def restart(self, mode: str) -> None:
        self.pg_ctl("-m", mode, "-l", f"{self.data}/server.log", "-o",
                    f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1", "restart")


def _run(argv: list[str]) -> None:
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        argv = ["runuser", "-u", "postgres", "--", *argv]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)


def _free_port(preferred: int = 15432) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError("no free port")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or \
        [p for p in [shutil.which("initdb")] if p]
    if not found:
        pytest.skip("initdb not found (install the PostgreSQL server binaries)")
    bindir = os.path.dirname(found[-1])
    root = tempfile.mkdtemp(prefix="omniq-pg-")
    data = os.path.join(root, "data")
    pwfile = os.path.join(root, "pw")
    Path(pwfile).write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(pwfile, "postgres")
    _run([f"{bindir}/initdb", "-D", data, "-U", "postgres", "--auth-host=scram-sha-256",
          "--auth-local=trust", f"--pwfile={pwfile}", "--no-sync", "-E", "UTF8"])
    own = Cluster(bindir, data, _free_port())
    own.start()
    try:
        yield own
    finally:
        try:
            own.pg_ctl("-m", "immediate", "stop")
        finally:
            shutil.rmtree(root, ignore_errors=True)


async def test_wrong_password_is_a_clear_error_without_the_password(
        cluster: Cluster, project_name: str) -> None:
    queue = AsyncPostgresTaskQueue(project_name=project_name,
                                   url=cluster.dsn(password="not-the-password"))
    with pytest.raises(BackendError) as caught:
        await queue.enqueue(_tasks.noop)
    message = str(caught.value)
    assert "refused the login" in message and "password" in message
    assert f"postgres:***@127.0.0.1:{cluster.port}/postgres" in message
    assert "not-the-password" not in message
    assert not isinstance(caught.value, BackendUnavailableError)  # not worth retrying
    async with AsyncPostgresTaskQueue(project_name=project_name, host="127.0.0.1",
                                      port=cluster.port, username="postgres",
                                      password=PASSWORD, database="postgres") as right:
        assert await right.get_task(await right.enqueue(_tasks.noop)) is not None


@pytest.fixture
async def app(cluster: Cluster, project_name: str) -> AsyncIterator[AsyncOmniQ]:
    async with AsyncOmniQ(backend=AsyncPostgresBackend(project_name=project_name,
                                                       url=cluster.dsn())) as oq:
        yield oq


async def _retrying(call: Callable[[], Awaitable[T]]) -> T:
    """Await ``call()`` until the server answers (it may be restarting)."""
    while True:
        try:
            return await call()
        except BackendUnavailableError:
            await anyio.sleep(0.1)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_server_restarted_mid_run_loses_nothing_committed(
        cluster: Cluster, app: AsyncOmniQ, tmp_path: Path, project_name: str,
        mode: str) -> None:
    (tmp_path / "records").mkdir()
    workers = Workers(cluster.dsn(), project_name, tmp_path / "records", tmp_path)
    total, chunk = 3000, 100
    queue = app.task_queue
    acknowledged: list[str] = []
    at_restart: list[int] = []
    postmaster = cluster.postmaster_pid()
    try:
        workers.start("--lease", "3")
        workers.start("--lease", "3")

        async def produce() -> None:
            for start in range(0, total, chunk):
                tasks = [queue.build_task(tasks_postgres.record, n)
                         for n in range(start, start + chunk)]
                # A failed enqueue is retried with the same ids: never stored twice.
                acknowledged.extend(await _retrying(partial(queue.enqueue_tasks, tasks)))
                await anyio.sleep(0.02)

        async def restart() -> None:
            with anyio.fail_after(30):
                while await queue.count_tasks(status=TaskStatus.COMPLETED) < 300:
                    await anyio.sleep(0.05)
            at_restart.append(len(acknowledged))
            await anyio.to_thread.run_sync(cluster.restart, mode)

        with anyio.fail_after(90):
            async with anyio.create_task_group() as tg:
                tg.start_soon(produce)
                tg.start_soon(restart)
            while await _retrying(lambda: queue.count_tasks(status=TaskStatus.COMPLETED)) \
                    < total:
                await anyio.sleep(0.2)
        assert all(p.poll() is None for p in workers.procs), "a worker died"
        assert cluster.postmaster_pid() != postmaster  # it did restart...
        assert at_restart[0] < total  # ...while tasks were still being enqueued
        assert len(acknowledged) == len(set(acknowledged)) == total
        for task_id in acknowledged[:: total // 50]:
            assert await app.get_result(task_id, timeout=10) is not None
    finally:
        workers.stop()
    runs = workers.executions()
    assert set(runs) == {str(n) for n in range(total)}  # every task ran
    db = await app.result_store._db()
    assert await db.fetchval(f'SELECT count(*) FROM "{app.result_store.schema}".omniq_results') \
        == total
    assert await queue.count_tasks(status=TaskStatus.RUNNING) == 0
