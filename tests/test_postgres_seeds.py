"""The seeds' PostgreSQL examples (seed 001 and 003), run as written against the server.

Deviations, all forced by the test setting: each test uses its own project name (passed, or
through ``OMNIQ_PROJECT_NAME`` for the components the seeds build without one, so runs never
share a schema; it is dropped afterwards) and short times where the seeds sleep or wait; the
seeds connect to ``localhost`` without naming a database, which libpq resolves through
``PGDATABASE`` (set to ``test`` here). Parts of an example that need another plugin (the File
backend of omniq-fsspec) are skipped while that plugin is not installed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from omniq.exceptions import PluginNotFoundError

pytestmark = pytest.mark.postgres

_order: list[str] = []
_lock = threading.Lock()


def simple_task(name: str) -> str:
    with _lock:
        _order.append(name)
    return name


async def async_task(name: str) -> str:
    return name


@pytest.fixture
def seed_env(monkeypatch: pytest.MonkeyPatch, postgres_dsn: str,
             project_name: str) -> Iterator[str]:
    monkeypatch.setenv("PGDATABASE", "test")
    # Components the seeds build without a project name take it from the settings.
    monkeypatch.setenv("OMNIQ_PROJECT_NAME", project_name)
    _order.clear()
    yield project_name

    async def drop() -> None:
        conn = await asyncpg.connect(postgres_dsn)
        try:
            # A connection the example left open may still hold a lock on its tables: do not
            # wait on it (the schema is this test's alone; a leftover harms nothing).
            await conn.execute("SET lock_timeout = '5s'")
            await conn.execute(f'DROP SCHEMA IF EXISTS "omniq_{project_name}" CASCADE')
        except asyncpg.exceptions.LockNotAvailableError:
            pass
        finally:
            await conn.close()

    asyncio.run(drop())


def _file_task_queue() -> type:
    try:
        from omniq.queue import FileTaskQueue
    except PluginNotFoundError as exc:
        pytest.skip(f"the example's File backend needs omniq-fsspec: {exc}")
    return FileTaskQueue


def test_seed001_working_with_multiple_queues(seed_env: str) -> None:
    from omniq.queue import PostgresTaskQueue
    from omniq.workers import ThreadPoolWorker

    # Create PostgreSQL queue with multiple named queues
    queue = PostgresTaskQueue(
        project_name=seed_env,
        host="localhost",
        port=5432,
        username="postgres",
        password="secret",
        queues=["high", "medium", "low"],
    )
    # Enqueue tasks to different queues (before the worker starts, so the order shows)
    low_task_id = queue.enqueue(simple_task, func_args=dict(name="Low Priority"),
                                queue_name="low")
    medium_task_id = queue.enqueue(simple_task, func_args=dict(name="Medium Priority"),
                                   queue_name="medium")
    high_task_id = queue.enqueue(simple_task, func_args=dict(name="High Priority"),
                                 queue_name="high")
    # Create worker that processes queues in priority order
    worker = ThreadPoolWorker(queue=queue, max_workers=1)
    worker.start()
    try:
        from omniq.models import TaskStatus

        deadline = dt.datetime.now() + dt.timedelta(seconds=20)
        ids = (high_task_id, medium_task_id, low_task_id)
        while any(queue.get_task(i).status != TaskStatus.COMPLETED for i in ids):
            assert dt.datetime.now() < deadline, "tasks did not complete"
            threading.Event().wait(0.02)
    finally:
        worker.stop()
        queue.close()
    # Worker processed "high" queue tasks first, then "medium", then "low"
    assert _order == ["High Priority", "Medium Priority", "Low Priority"]


def test_seed003_postgresql_task_queue_from_a_dsn(seed_env: str) -> None:
    from omniq.queue import PostgreSQLTaskQueue

    queue = PostgreSQLTaskQueue(dsn="postgresql://postgres:password@127.0.0.1:5432/test",
                                project_name=seed_env)
    with queue:
        task_id = queue.enqueue(simple_task, func_args=dict(name="Tom"))
        assert queue.get_task(task_id).queue_name == "default"


def test_seed001_backend_based_usage(seed_env: str, tmp_path: Path) -> None:
    from omniq import EventStore, OmniQ
    from omniq.backend import PostgresBackend, SQLiteBackend

    sqlite_backend = SQLiteBackend(project_name=seed_env, base_dir=str(tmp_path))
    pg_backend = PostgresBackend(
        project_name=seed_env,
        host="localhost",
        port=5432,
        username="postgres",
        password="secret",
    )
    # Create OmniQ with a single backend (PostgreSQL here)
    oq = OmniQ.from_backend(pg_backend, worker_type="thread_pool",
                            worker_config={"max_workers": 10})
    with oq:
        oq.start_worker()
        task_id = oq.enqueue(simple_task, func_args=dict(name="Tom"))
        assert oq.get_result(task_id, timeout=15) == "Tom"
        oq.stop_worker()
    # Or mix backends for different components (events in PostgreSQL)
    oq = OmniQ.from_backend(
        backend=sqlite_backend,
        result_store_backend=sqlite_backend,
        event_store_backend=pg_backend,
        worker_type="async",
        worker_config={"max_workers": 20},
    )
    with oq:
        oq.start_worker()
        task_id = oq.enqueue(async_task, func_args=dict(name="Ann"))
        assert oq.get_result(task_id, timeout=15) == "Ann"
        oq.stop_worker()
        assert {"ENQUEUED", "EXECUTING", "COMPLETE"} <= {
            e.type.value for e in oq.get_events(task_id)}
    # Create individual components from backends
    event_store = EventStore.from_backend(pg_backend)
    with event_store:
        assert [e.type.value for e in event_store.get_events(task_id=task_id)][0] == "ENQUEUED"


@pytest.mark.parametrize("task_queue", ["file", "postgres"])
def test_seed001_configuration_file(seed_env: str, tmp_path: Path, task_queue: str) -> None:
    from omniq import OmniQ

    if task_queue == "file":
        _file_task_queue()
        queue_yaml = f"""  type: file
  config:
    base_dir: {tmp_path}/files"""
    else:
        queue_yaml = """  type: postgres
  config:
    host: localhost
    port: 5432
    username: postgres
    password: secret"""
    config = tmp_path / "config.yaml"
    config.write_text(f"""
project_name: {seed_env}
task_queue:
{queue_yaml}
    queues:
      - high
      - medium
      - low

result_store:
  type: sqlite
  config:
    base_dir: {tmp_path}

event_store:
  type: postgres
  config:
    host: localhost
    port: 5432
    username: postgres
    password: secret

worker:
  type: thread_pool
  config:
    max_workers: 10
""")
    oq = OmniQ.from_config_file(str(config))
    with oq:
        oq.start_worker()
        task_id = oq.enqueue(simple_task, func_args=dict(name="Tom"), queue_name="low")
        assert oq.get_result(task_id, timeout=15) == "Tom"
        oq.stop_worker()
        assert "COMPLETE" in {e.type.value for e in oq.get_events(task_id)}


@pytest.mark.parametrize("task_queue", ["file", "sqlite"])
def test_seed001_basic_usage_with_postgres_events(seed_env: str, tmp_path: Path,
                                                  task_queue: str) -> None:
    from omniq import OmniQ
    from omniq.storage import PostgresEventStorage, SQLiteResultStorage

    if task_queue == "file":
        queue = _file_task_queue()(base_dir=str(tmp_path), queues=["low", "medium", "high"])
    else:
        from omniq.queue import SQLiteTaskQueue

        queue = SQLiteTaskQueue(base_dir=str(tmp_path), queues=["low", "medium", "high"])
    # Create OmniQ instance with default components
    oq = OmniQ(
        project_name=seed_env,
        task_queue=queue,
        result_store=SQLiteResultStorage(base_dir=str(tmp_path)),
        event_store=PostgresEventStorage(host="localhost", port=5432, username="postgres"),
    )
    # Start the worker
    oq.start_worker()
    try:
        # Enqueue a task
        task_id = oq.enqueue(
            func=simple_task,
            func_args=dict(name="Tom"),
            queue_name="low",
            run_in=dt.timedelta(seconds=0.1),
            ttl=dt.timedelta(hours=1),
            result_ttl=dt.timedelta(minutes=5),
        )
        # Get the result
        assert oq.get_result(task_id, timeout=15) == "Tom"
        # Schedule a recurring task
        schedule_id = oq.schedule(
            func=simple_task,
            func_args=dict(name="Tom"),
            interval=dt.timedelta(seconds=0.2),
            queue_name="low",
        )
        deadline = dt.datetime.now() + dt.timedelta(seconds=15)
        # Get latest result from scheduled task
        while oq.get_result(schedule_id=schedule_id, kind="latest") is None:
            assert dt.datetime.now() < deadline, "the schedule never ran"
            threading.Event().wait(0.05)
        assert oq.get_result(schedule_id=schedule_id, kind="latest") == "Tom"
    finally:
        # Stop the worker
        oq.stop_worker()
    events = oq.get_events(task_id)
    assert {"ENQUEUED", "EXECUTING", "COMPLETE"} <= {e.type.value for e in events}
    oq.close()
