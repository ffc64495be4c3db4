"""What is specific to the sqlite backend: where the database goes (every constructor form of
the seeds), one file for a project, WAL and locking, schema versions, bad files."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import msgspec
import pytest
from omniq import AsyncOmniQ, OmniQ
from omniq._sync import as_async
from omniq.exceptions import BackendError, BackendUnavailableError, ConfigError
from omniq.models import SQLiteResultStoreConfig, SQLiteTaskQueueConfig, TaskStatus
from omniq_sqlite import (
    AsyncSQLiteBackend,
    AsyncSQLiteResultStore,
    AsyncSQLiteTaskQueue,
    SQLiteBackend,
    SQLiteResultStore,
    SQLiteTaskQueue,
    _sql,
)
from omniq_sqlite._connected import resolve_path
from tasks_sqlite import noop


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


# -- where the database goes -------------------------------------------------------------------

def test_database_path_form_of_seed_003(in_tmp: Path) -> None:
    from omniq.queue import SQLiteTaskQueue as FromFacade

    assert FromFacade is SQLiteTaskQueue
    with SQLiteTaskQueue(database_path="tasks.db") as queue:
        task_id = queue.enqueue(noop)
        assert queue.get_task(task_id).status == TaskStatus.PENDING
    assert "omniq_tasks" in tables(in_tmp / "tasks.db")


def test_base_dir_form_puts_the_project_file_there(in_tmp: Path) -> None:
    with SQLiteResultStore(project_name="my_project", base_dir="some/path") as store:
        assert store.get("missing") is None
    assert "omniq_results" in tables(in_tmp / "some/path/my_project.db")


def test_backend_builds_all_three_in_one_file(in_tmp: Path) -> None:
    backend = SQLiteBackend(project_name="my_project", base_dir="some/path")
    oq = OmniQ.from_backend(backend, result_store_backend=backend, event_store_backend=backend,
                            worker_type="thread_pool", worker_config={"max_workers": 2})
    with oq:
        oq.start_worker()
        try:
            task_id = oq.enqueue(func=noop)
            assert oq.get_result(task_id, timeout=10) is None
            assert oq.get_events(task_id)
        finally:
            oq.stop_worker()
    assert {"omniq_tasks", "omniq_results", "omniq_events", "omniq_schema_version"} <= tables(
        in_tmp / "some/path/my_project.db")


def test_backend_type_without_a_path_uses_base_dir_setting(in_tmp: Path) -> None:
    with OmniQ(project_name="readme", backend_type="sqlite") as oq:
        oq.enqueue(noop)
    assert (in_tmp / ".omniq" / "readme.db").exists()


def test_omniq_with_nothing_configured_stays_in_memory(in_tmp: Path) -> None:
    with OmniQ() as oq:
        assert type(as_async(oq.task_queue)).__name__ == "AsyncMemoryTaskQueue"
    assert not (in_tmp / ".omniq").exists()


def test_what_was_enqueued_survives_a_restart(in_tmp: Path) -> None:
    with OmniQ(project_name="restart", backend_type="sqlite") as oq:
        task_id = oq.enqueue(noop)
    with OmniQ(project_name="restart", backend_type="sqlite") as oq:
        assert oq.get_task(task_id).status == TaskStatus.PENDING
        oq.start_worker(worker_type="thread_pool", max_workers=1)
        try:
            assert oq.get_result(task_id, timeout=10) is None
            assert oq.get_task(task_id).status == TaskStatus.COMPLETED
        finally:
            oq.stop_worker()


@pytest.mark.parametrize(("url", "expected"), [
    ("sqlite:///rel/tasks.db", "rel/tasks.db"),
    ("sqlite:///tasks.db?mode=x", "tasks.db"),
    ("sqlite:///:memory:", ":memory:"),
    ("sqlite://", ":memory:"),
])
def test_sqlite_urls(in_tmp: Path, url: str, expected: str) -> None:
    path = resolve_path("p", url=url, database_path=None, base_dir=None)
    assert path == (expected if expected == ":memory:" else str(in_tmp / expected))


def test_absolute_url_and_bad_urls(tmp_path: Path) -> None:
    assert resolve_path("p", url=f"sqlite:///{tmp_path}/a.db", database_path=None,
                        base_dir=None) == str(tmp_path / "a.db")
    with pytest.raises(ConfigError, match="not an sqlite URL"):
        resolve_path("p", url="postgres:///x", database_path=None, base_dir=None)
    with pytest.raises(ConfigError, match="host part"):
        resolve_path("p", url="sqlite://host/x.db", database_path=None, base_dir=None)
    with pytest.raises(ConfigError, match="not both"):
        resolve_path("p", url="sqlite:///x.db", database_path="y.db", base_dir=None)


def test_url_selects_sqlite_and_results_follow_the_queue(in_tmp: Path) -> None:
    with OmniQ(project_name="urls", task_queue="sqlite:///by_url.db") as oq:
        assert isinstance(as_async(oq.task_queue), AsyncSQLiteTaskQueue)
        assert isinstance(as_async(oq.result_store), AsyncSQLiteResultStore)
        assert oq.result_store.database_path == str(in_tmp / "by_url.db")
        oq.start_worker(worker_type="async", max_workers=2)
        try:
            assert oq.get_result(oq.enqueue(noop), timeout=10) is None
        finally:
            oq.stop_worker()


def test_yaml_type_sqlite(in_tmp: Path) -> None:
    (in_tmp / "config.yaml").write_text(
        "project_name: yaml_project\n"
        "task_queue:\n  type: sqlite\n  config:\n    base_dir: data\n    queues: [high, low]\n"
        "result_store:\n  type: sqlite\n"
        "event_store:\n  type: sqlite\n")
    with OmniQ.from_config_file("config.yaml") as oq:
        assert oq.task_queue.queues == ["high", "low", "default"]
        oq.enqueue(noop, queue_name="high")
        assert oq.event_store is not None
    assert {"omniq_tasks", "omniq_results", "omniq_events"} <= tables(
        in_tmp / "data/yaml_project.db")


def test_config_structs(in_tmp: Path) -> None:
    queue = SQLiteTaskQueue.from_config(SQLiteTaskQueueConfig(
        project_name="cfg", base_dir="some/path", queues=["high", "medium", "low"]))
    store = SQLiteResultStore.from_config(SQLiteResultStoreConfig(
        project_name="cfg", base_dir="some/path"))
    with queue, store:
        queue.enqueue(noop, queue_name="medium")
        assert queue.count_tasks(queue_name="medium") == 1
    assert queue.database_path == store.database_path == str(in_tmp / "some/path/cfg.db")


@pytest.mark.anyio
async def test_memory_database_is_shared_by_the_components_of_a_process(
        project_name: str) -> None:
    backend = AsyncSQLiteBackend(project_name=project_name, url="sqlite:///:memory:")
    async with AsyncOmniQ.from_backend(backend, result_store_backend=backend) as oq:
        await oq.start_worker("async", max_workers=2)
        try:
            task_id = await oq.enqueue(noop)
            assert await oq.get_result(task_id, timeout=10) is None
        finally:
            await oq.stop_worker()
        assert oq.task_queue.database_path == oq.result_store.database_path == ":memory:"


# -- the file, locking and indexes ------------------------------------------------------------

@pytest.mark.anyio
async def test_file_is_in_wal_mode_and_claim_uses_the_runnable_index(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    async with AsyncSQLiteTaskQueue(database_path=path) as queue:
        await queue.enqueue(noop)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        plan = conn.execute("EXPLAIN QUERY PLAN " + _sql.SQL["claim"],
                            (1.0, "p", "p", "q", 1.0, 10)).fetchall()
    details = " | ".join(row[3] for row in plan)
    assert "USING INDEX omniq_tasks_runnable" in details
    assert "TEMP B-TREE" not in details  # rows come in claim order straight from the index


@pytest.mark.anyio
async def test_a_write_waits_for_another_process_lock_without_blocking_the_loop(
        tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    async with AsyncSQLiteTaskQueue(database_path=path) as queue:
        await queue.enqueue(noop)
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")  # another process holding the write lock
        timer = threading.Timer(0.3, other.execute, ("COMMIT",))
        timer.start()
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await anyio.sleep(0.01)
                ticks += 1

        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            tg.start_soon(tick)
            with anyio.fail_after(10):
                await queue.enqueue(noop)
            tg.cancel_scope.cancel()
        assert time.monotonic() - started >= 0.25  # it waited for the lock...
        assert ticks >= 10  # ...while the event loop kept running
        assert await queue.count_tasks() == 2
        timer.join()
        other.close()


@pytest.mark.anyio
async def test_lock_held_past_busy_timeout_is_backend_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "stuck.db"
    async with AsyncSQLiteTaskQueue(database_path=path, busy_timeout=0.2) as queue:
        await queue.enqueue(noop)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(BackendUnavailableError, match="locked"):
                await queue.enqueue(noop)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert await queue.count_tasks() == 1


@pytest.mark.anyio
async def test_in_process_enqueue_wakes_an_idle_worker_at_once(tmp_path: Path) -> None:
    async with AsyncSQLiteTaskQueue(database_path=tmp_path / "w.db") as queue:
        async with anyio.create_task_group() as tg:
            woke: list[float] = []

            async def idle() -> None:
                await queue.wait_for_work(["default"], timeout=10)
                woke.append(time.monotonic())

            tg.start_soon(idle)
            await anyio.sleep(0.05)
            sent = time.monotonic()
            await queue.enqueue(noop)
        assert woke and woke[0] - sent < 0.05


@pytest.mark.anyio
async def test_another_process_commit_wakes_an_idle_worker(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    async with AsyncSQLiteTaskQueue(database_path=path) as queue:
        task = queue.build_task(noop)
        other = sqlite3.connect(path, isolation_level=None)  # stands in for another process
        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            tg.start_soon(queue.wait_for_work, ["default"], 10.0)
            await anyio.sleep(0.05)
            other.execute(_sql.SQL["insert_task"], _sql.task_row(queue.project_name, task))
        other.close()
        assert time.monotonic() - started < 1.0


# -- schema versions ----------------------------------------------------------------------------

def versions(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT component, version FROM omniq_schema_version"))


@pytest.mark.anyio
async def test_new_database_records_each_component_version(tmp_path: Path) -> None:
    backend = AsyncSQLiteBackend(database_path=tmp_path / "v.db")
    async with backend.create_task_queue(), backend.create_result_store(), \
            backend.create_event_store():
        pass
    assert versions(tmp_path / "v.db") == {"tasks": 2, "results": 1, "events": 1}


#: What the release before the SQL moved into this plugin wrote, as SQLite recorded it: every
#: version-1 database in the field looks like this.
SCHEMA_V1 = [
    "CREATE TABLE omniq_schema_version ( component TEXT PRIMARY KEY, version INTEGER NOT NULL )",
    "CREATE TABLE omniq_tasks ( project TEXT NOT NULL, id TEXT NOT NULL, queue TEXT NOT NULL, "
    "status TEXT NOT NULL, priority INTEGER NOT NULL, run_at REAL NOT NULL, lease_expires_at "
    "REAL, attempts INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (project, id) )",
    "CREATE INDEX omniq_tasks_runnable ON omniq_tasks (project, queue, priority DESC, run_at, "
    "id) WHERE status IN ('pending', 'retrying')",
    "CREATE INDEX omniq_tasks_leases ON omniq_tasks (project, lease_expires_at) "
    "WHERE status = 'running'",
    "CREATE INDEX omniq_tasks_queue_status ON omniq_tasks (project, queue, status, id)",
    "CREATE INDEX omniq_tasks_status ON omniq_tasks (project, status, id)",
    "CREATE TABLE omniq_task_deps ( project TEXT NOT NULL, parent_id TEXT NOT NULL, child_id "
    "TEXT NOT NULL, PRIMARY KEY (project, parent_id, child_id) )",
    "CREATE TABLE omniq_schedules ( project TEXT NOT NULL, id TEXT NOT NULL, status TEXT NOT "
    "NULL, next_run_at REAL, version INTEGER NOT NULL, data BLOB NOT NULL, "
    "PRIMARY KEY (project, id) )",
    "CREATE INDEX omniq_schedules_due ON omniq_schedules (project, next_run_at) "
    "WHERE status = 'active'",
    "CREATE TABLE omniq_results ( project TEXT NOT NULL, task_id TEXT NOT NULL, schedule_id "
    "TEXT, finished_at REAL NOT NULL, expires_at REAL, data BLOB NOT NULL, "
    "PRIMARY KEY (project, task_id) )",
    "CREATE INDEX omniq_results_schedule ON omniq_results (project, schedule_id, finished_at) "
    "WHERE schedule_id IS NOT NULL",
    "CREATE INDEX omniq_results_expiry ON omniq_results (project, expires_at) "
    "WHERE expires_at IS NOT NULL",
    "CREATE TABLE omniq_events ( project TEXT NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL, "
    "ts REAL NOT NULL, task_id TEXT, schedule_id TEXT, body TEXT NOT NULL, "
    "PRIMARY KEY (project, id) )",
    "CREATE INDEX omniq_events_ts ON omniq_events (project, ts, id)",
    "CREATE INDEX omniq_events_task ON omniq_events (project, task_id, ts) "
    "WHERE task_id IS NOT NULL",
    "CREATE INDEX omniq_events_schedule ON omniq_events (project, schedule_id, ts) "
    "WHERE schedule_id IS NOT NULL",
    "CREATE INDEX omniq_events_type ON omniq_events (project, type, ts)",
]


#: What version 2 of the tasks component adds: the worker registry.
SCHEMA_V2_TASKS = [
    "CREATE TABLE omniq_workers ( project TEXT NOT NULL, id TEXT NOT NULL, last_heartbeat "
    "REAL NOT NULL, data BLOB NOT NULL, PRIMARY KEY (project, id) )",
]


def schema_of(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid")
        return [" ".join(r[0].split()) for r in rows]


@pytest.mark.anyio
async def test_version_1_is_the_schema_shipped_before(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # A shipped step is never edited: a database recorded as version 1 holds exactly this.
    monkeypatch.setitem(_sql.MIGRATIONS, "tasks", {1: _sql.MIGRATIONS["tasks"][1]})
    backend = AsyncSQLiteBackend(database_path=tmp_path / "v1.db")
    async with backend.create_task_queue(), backend.create_result_store(), \
            backend.create_event_store():
        pass
    assert schema_of(tmp_path / "v1.db") == SCHEMA_V1


@pytest.mark.anyio
async def test_a_new_database_holds_version_1_then_version_2(tmp_path: Path) -> None:
    backend = AsyncSQLiteBackend(database_path=tmp_path / "v2.db")
    async with backend.create_task_queue(), backend.create_result_store(), \
            backend.create_event_store():
        pass
    tasks_v1 = SCHEMA_V1[:9]  # the version table and the tasks component, created first
    assert schema_of(tmp_path / "v2.db") == [*tasks_v1, *SCHEMA_V2_TASKS, *SCHEMA_V1[9:]]


@pytest.mark.anyio
async def test_a_version_1_database_of_the_previous_release_opens_and_runs(
        tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    async with AsyncSQLiteTaskQueue(database_path=":memory:") as scratch:
        task = scratch.build_task(noop)
    with sqlite3.connect(path) as conn:
        for statement in SCHEMA_V1:
            conn.execute(statement)
        conn.executemany("INSERT INTO omniq_schema_version VALUES (?, 1)",
                         [("tasks",), ("results",), ("events",)])
        conn.execute("INSERT INTO omniq_tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (scratch.project_name, task.id, task.queue_name, "pending", task.priority,
                      task.run_at.timestamp(), None, 0, msgspec.msgpack.encode(task)))
    backend = AsyncSQLiteBackend(database_path=path, project_name=scratch.project_name)
    async with backend.create_task_queue() as queue, backend.create_result_store(), \
            backend.create_event_store():
        claimed = await queue.claim(["default"], worker_id="w", lease=30,
                                    now=datetime.now(UTC), limit=5)
        assert [t.id for t in claimed] == [task.id]
    # Upgraded to version 2 (the worker registry added); nothing of version 1 rewritten.
    assert versions(path) == {"tasks": 2, "results": 1, "events": 1}
    assert schema_of(path) == [*SCHEMA_V1, *SCHEMA_V2_TASKS]


#: A tasks schema version after this release's, for the upgrade tests.
NEXT = max(_sql.MIGRATIONS["tasks"]) + 1


@pytest.mark.anyio
async def test_older_database_is_upgraded_in_one_transaction(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.db"
    async with AsyncSQLiteTaskQueue(database_path=path) as queue:
        task_id = await queue.enqueue(noop)
    step = ["CREATE TABLE omniq_v2_probe (x INTEGER)", "INSERT INTO omniq_v2_probe VALUES (2)"]
    monkeypatch.setitem(_sql.MIGRATIONS, "tasks", {**_sql.MIGRATIONS["tasks"], NEXT: step})
    async with AsyncSQLiteTaskQueue(database_path=path) as queue:
        assert (await queue.get_task(task_id)) is not None  # the data came along
    assert versions(path)["tasks"] == NEXT
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT x FROM omniq_v2_probe").fetchall() == [(2,)]


@pytest.mark.anyio
async def test_failed_upgrade_leaves_the_old_schema(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.db"
    async with AsyncSQLiteTaskQueue(database_path=path):
        pass
    step = ["CREATE TABLE omniq_v2_probe (x INTEGER)", "THIS IS NOT SQL"]
    monkeypatch.setitem(_sql.MIGRATIONS, "tasks", {**_sql.MIGRATIONS["tasks"], NEXT: step})
    with pytest.raises(BackendError):
        async with AsyncSQLiteTaskQueue(database_path=path):
            pass
    assert versions(path)["tasks"] == NEXT - 1
    assert "omniq_v2_probe" not in tables(path)  # the first statement was rolled back too


@pytest.mark.anyio
async def test_newer_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    async with AsyncSQLiteTaskQueue(database_path=path):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE omniq_schema_version SET version = 99 WHERE component = 'tasks'")
    before = path.read_bytes()
    for cls in (AsyncSQLiteTaskQueue, AsyncSQLiteResultStore):
        with pytest.raises(BackendError, match="version 99, newer") as caught:
            async with cls(database_path=path):
                pass
        assert str(path) in str(caught.value)
    assert path.read_bytes() == before


# -- files that are not (good) SQLite databases -------------------------------------------------

def _corrupt(path: Path) -> None:
    """A real database whose schema page is overwritten with garbage after the header."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(1000)])
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xa5" * (4096 - 100)
    path.write_bytes(bytes(data))


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["text", "corrupt", "truncated_header"])
async def test_bad_file_gives_a_clear_error_and_is_left_as_it_was(tmp_path: Path,
                                                                  kind: str) -> None:
    path = tmp_path / "bad.db"
    if kind == "text":
        path.write_text("name,value\nthis is a CSV file, not a database\n" * 200)
    elif kind == "corrupt":
        _corrupt(path)
    else:
        path.write_bytes(b"SQLite format 3\x00" + b"\x00\xff" * 30)
    before = path.read_bytes()
    with pytest.raises(BackendError) as caught:
        async with AsyncSQLiteTaskQueue(database_path=path) as queue:
            await queue.enqueue(noop)
    assert str(path) in str(caught.value)
    assert "not a valid SQLite database" in str(caught.value)
    assert path.read_bytes() == before
    assert not (tmp_path / "bad.db-wal").exists()


def test_sync_twin_reports_bad_file_too(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello " * 1000)
    with pytest.raises(BackendError, match="notes.txt"):
        SQLiteTaskQueue(database_path=path).enqueue(noop)
    assert path.read_text() == "hello " * 1000


# -- odds and ends -----------------------------------------------------------------------------

@pytest.mark.anyio
async def test_projects_sharing_a_file_never_see_each_other(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    async with AsyncSQLiteTaskQueue(project_name="alpha", database_path=path) as a, \
            AsyncSQLiteTaskQueue(project_name="beta", database_path=path) as b:
        task_id = await a.enqueue(noop)
        assert await b.get_task(task_id) is None
        now = datetime.now(UTC) + timedelta(seconds=1)
        assert await b.claim(["default"], worker_id="w", lease=5, now=now) == []
        assert [t.id for t in await a.claim(["default"], worker_id="w", lease=5, now=now)] == [
            task_id]


def test_plugin_registration() -> None:
    from omniq import plugins
    from omniq.backend import SQLiteBackend as FacadeBackend
    from omniq.storage import SQLiteEventStore, SQLiteResultStore

    assert FacadeBackend is SQLiteBackend
    assert SQLiteResultStore is SQLiteResultStore
    assert SQLiteEventStore.__name__ == "SQLiteEventStore"
    for kind in ("task_queue", "result_store", "event_store", "backend"):
        assert plugins.resolve(kind, "sqlite").__module__.startswith("omniq_sqlite")
        assert plugins.resolve_url(kind, "sqlite:///x.db") is plugins.resolve(kind, "sqlite")


@pytest.mark.anyio
async def test_wake_channel_carries_keys_between_channels_of_one_file(tmp_path: Path) -> None:
    from omniq_sqlite._wakeups import WakeChannel

    path = str(tmp_path / "wake.db")
    got: list[list[object]] = []
    arrived = anyio.Event()

    def deliver(keys: list[object]) -> None:
        nonlocal arrived
        got.append(keys)
        arrived.set()

    waiter, other = WakeChannel(path, deliver), WakeChannel(path, lambda keys: None)
    try:
        waiter.listen("w")
        other.publish([("proj", "default"), ("proj", "result", "abc")])
        with anyio.fail_after(5):
            await arrived.wait()
        assert got == [[("proj", "default")]]  # a worker's socket gets no result keys
        arrived = anyio.Event()
        waiter.listen("r")
        other.publish([("proj", "result", "abc")])
        with anyio.fail_after(5):
            await arrived.wait()
        assert got[-1] == [("proj", "result", "abc")]
    finally:
        waiter.close()
        other.close()
    assert not Path(waiter.directory).exists()  # the last one out cleans up
