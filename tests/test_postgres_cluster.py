"""Tests that need a PostgreSQL server of their own: password authentication, and a server
restarted under running workers.

The module starts a private cluster (initdb into a temporary directory, pg_ctl on a free
loopback port, scram-sha-256 passwords) and stops only that cluster at the end; the shared
server on 5432 is never touched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
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
from postgres_server import PASSWORD, Cluster, private_cluster
from test_postgres_processes import Workers

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.anyio]

T = TypeVar("T")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with private_cluster() as own:
        yield own


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
