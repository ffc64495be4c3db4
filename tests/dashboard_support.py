"""What the dashboard tests share: a client on a real backend (with its event store), and a
project with something on every page (finished, failed, waiting tasks and a schedule)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
from omniq import AsyncOmniQ, TaskFailedError
from omniq.testing import _tasks

BACKENDS = ["sqlite", "redis", "postgres"]
FAST = {"poll_interval": 0.05, "maintenance_interval": 0.1}


def options_for(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if backend == "sqlite":
        return {"base_dir": str(tmp_path)}
    if backend == "redis":
        return {"url": request.getfixturevalue("redis_url")}
    return {"url": request.getfixturevalue("postgres_dsn")}


@contextlib.asynccontextmanager
async def client_on(backend: str, project_name: str, request: pytest.FixtureRequest,
                    tmp_path: Path) -> AsyncIterator[AsyncOmniQ]:
    """An AsyncOmniQ on ``backend`` with that engine's event store; a PostgreSQL schema is
    dropped afterwards."""
    options = options_for(backend, request, tmp_path)
    try:
        async with AsyncOmniQ(project_name=project_name, backend_type=backend,
                              event_store=backend, **options) as oq:
            yield oq
    finally:
        if backend == "postgres":
            await drop_schema(options["url"], project_name)


async def drop_schema(dsn: str, project_name: str) -> None:
    """Drop a test project's PostgreSQL schema, without waiting on a leftover lock."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET lock_timeout = '5s'")
        await conn.execute(f'DROP SCHEMA IF EXISTS "omniq_{project_name}" CASCADE')
    except asyncpg.exceptions.LockNotAvailableError:
        pass
    finally:
        await conn.close()


async def populate(oq: AsyncOmniQ) -> dict[str, str]:
    """A completed task, a dead letter with a traceback, a task due later and an interval
    schedule (paused right away unless the caller resumes it); returns their ids."""
    await oq.start_worker(worker_type="async", **FAST)
    try:
        done = await oq.enqueue(_tasks.add, 20, 22, name="the answer")
        dead = await oq.enqueue(_tasks.fail, "card declined", queue_name="default")
        assert await oq.get_result(done, timeout=10) == 42
        with pytest.raises(TaskFailedError):
            await oq.get_result(dead, timeout=10)
    finally:
        await oq.stop_worker()
    later = await oq.enqueue(_tasks.add, 1, 1, run_in=timedelta(hours=1))
    schedule = await oq.schedule(_tasks.noop, interval=timedelta(hours=1), name="hourly")
    return {"done": done, "dead": dead, "later": later, "schedule": schedule}
