"""What is specific to the PostgreSQL backend: constructor forms, isolation by schema, errors,
migrations, LISTEN/NOTIFY wake-ups and the hot table. The contracts themselves are checked by
the conformance kit (test_postgres_conformance.py)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import msgspec
import omniq_postgres._engine as engine_module
import pytest
from omniq import AsyncOmniQ, OmniQ
from omniq.exceptions import BackendError, BackendUnavailableError, ConfigError
from omniq.models import TaskStatus
from omniq.testing import _tasks
from omniq_postgres import (
    AsyncPostgresBackend,
    AsyncPostgresEventStore,
    AsyncPostgresResultStore,
    AsyncPostgresTaskQueue,
    PostgresTaskQueueConfig,
)

pytestmark = [pytest.mark.postgres, pytest.mark.anyio]


async def _drop(dsn: str, *schemas: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for schema in schemas:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
async def cleanup(postgres_dsn: str) -> AsyncIterator[Callable[[str], str]]:
    """Register projects whose schemas the test creates; they are dropped afterwards."""
    schemas: list[str] = []

    def project(name: str) -> str:
        schemas.append(f"omniq_{name}")
        return name

    yield project
    await _drop(postgres_dsn, *schemas)


@pytest.fixture
async def queue(postgres_dsn: str, project_name: str,
                cleanup: Callable[[str], str]) -> AsyncIterator[AsyncPostgresTaskQueue]:
    async with AsyncPostgresTaskQueue(project_name=cleanup(project_name),
                                      url=postgres_dsn) as q:
        yield q


async def _tables(dsn: str, schema: str) -> set[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT table_name FROM information_schema.tables "
                                "WHERE table_schema = $1", schema)
    finally:
        await conn.close()
    return {r[0] for r in rows}


# -- constructor forms --------------------------------------------------------------------------
async def test_host_port_username_form_with_database_from_pgdatabase(
        monkeypatch: pytest.MonkeyPatch, postgres_dsn: str, project_name: str,
        cleanup: Callable[[str], str]) -> None:
    # The seeds' form names no database: libpq's PGDATABASE (else the user name) decides.
    monkeypatch.setenv("PGDATABASE", "test")
    async with AsyncPostgresTaskQueue(project_name=cleanup(project_name), host="127.0.0.1",
                                      port=5432, username="postgres", password="secret",
                                      queues=["high", "low"]) as q:
        task_id = await q.enqueue(_tasks.add, 1, 2, queue_name="low")
        assert (await q.get_task(task_id)).queue_name == "low"
        assert q.queues == ["high", "low", "default"]
    assert "omniq_tasks" in await _tables(postgres_dsn, f"omniq_{project_name}")


async def test_dsn_url_and_config_forms_reach_the_same_tables(
        postgres_dsn: str, project_name: str, cleanup: Callable[[str], str]) -> None:
    cleanup(project_name)
    forms = [
        AsyncPostgresTaskQueue(project_name=project_name, dsn=postgres_dsn),
        AsyncPostgresTaskQueue(project_name=project_name,
                               url=postgres_dsn.replace("postgresql://", "postgres://")),
        AsyncPostgresTaskQueue(project_name=project_name, host="127.0.0.1", port=5432,
                               username="postgres", database="test"),
        AsyncPostgresTaskQueue.from_config(PostgresTaskQueueConfig(
            project_name=project_name, host="127.0.0.1", port=5432, username="postgres",
            database="test", queues=["a"])),
    ]
    task_id = await forms[0].enqueue(_tasks.noop)
    for form in forms:
        async with form:
            assert (await form.get_task(task_id)) is not None, form


async def test_sync_twin_and_seed_spelling(postgres_dsn: str, project_name: str,
                                           cleanup: Callable[[str], str]) -> None:
    from omniq.queue import PostgreSQLTaskQueue, PostgresTaskQueue

    assert PostgreSQLTaskQueue is PostgresTaskQueue
    with PostgreSQLTaskQueue(project_name=cleanup(project_name), dsn=postgres_dsn) as q:
        task_id = q.enqueue(_tasks.add, 2, 3)
        assert q.get_task(task_id).status == TaskStatus.PENDING
        assert q.count_tasks() == 1


async def test_type_names_and_url_schemes_resolve(postgres_dsn: str, project_name: str,
                                                  cleanup: Callable[[str], str]) -> None:
    cleanup(project_name)
    for spec in ({"backend_type": "postgres", "url": postgres_dsn},
                 {"backend_type": "postgresql", "url": postgres_dsn},
                 {"task_queue": postgres_dsn, "result_store": postgres_dsn},
                 {"task_queue": postgres_dsn.replace("postgresql:", "postgres:"),
                  "result_store": "postgres"},
                 {"task_queue": postgres_dsn}):  # results default to the same server
        oq = AsyncOmniQ(project_name=project_name, **spec)
        assert isinstance(oq.task_queue, AsyncPostgresTaskQueue), spec
        assert isinstance(oq.result_store, AsyncPostgresResultStore), spec
        await oq.close()


async def test_an_existing_pool_is_used_and_left_open(
        postgres_dsn: str, project_name: str, cleanup: Callable[[str], str]) -> None:
    pool = await asyncpg.create_pool(postgres_dsn, min_size=1, max_size=3)
    try:
        async with AsyncPostgresTaskQueue(project_name=cleanup(project_name), pool=pool) as q:
            engine = await q._db()
            assert engine.pool is pool
            task_id = await q.enqueue(_tasks.noop)
            with anyio.fail_after(5):
                await q.wait_for_work(["default"], 0.1)  # LISTEN on a connection of the pool
        assert not pool.is_closing()
        assert await pool.fetchval(f'SELECT count(*) FROM "omniq_{project_name}".omniq_tasks '
                                   "WHERE id = $1", task_id) == 1
    finally:
        await pool.close()


async def test_pool_sizes_are_configurable_and_components_share_one_pool(
        postgres_dsn: str, project_name: str, cleanup: Callable[[str], str]) -> None:
    backend = AsyncPostgresBackend(project_name=cleanup(project_name), url=postgres_dsn,
                                   min_size=2, max_size=4)
    async with AsyncOmniQ(backend=backend) as oq:
        pool = (await oq.task_queue._db()).pool
        assert pool.get_min_size() == 2 and pool.get_max_size() == 4
        assert (await oq.result_store._db()).pool is pool


async def test_yaml_config_file(tmp_path: Path, postgres_dsn: str, project_name: str,
                                cleanup: Callable[[str], str]) -> None:
    cleanup(project_name)
    config = tmp_path / "omniq.yaml"
    config.write_text(f"""
project_name: {project_name}
task_queue:
  type: postgres
  config:
    host: 127.0.0.1
    port: 5432
    username: postgres
    password: secret
    database: test
    queues: [high, low]
result_store:
  type: postgresql
  url: {postgres_dsn}
""")
    oq = AsyncOmniQ.from_config_file(config)
    assert isinstance(oq.task_queue, AsyncPostgresTaskQueue)
    assert oq.task_queue.queues[:2] == ["high", "low"]
    async with oq:
        task_id = await oq.enqueue(_tasks.add, 1, 1, queue_name="high")
        assert (await oq.get_task(task_id)).queue_name == "high"
    queue_file = tmp_path / "queue.yaml"
    queue_file.write_text(f"url: {postgres_dsn}\nproject_name: {project_name}\n")
    async with AsyncPostgresTaskQueue.from_config_file(queue_file) as q:
        assert await q.get_task(task_id) is not None


def test_bad_arguments_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="not a PostgreSQL URL"):
        AsyncPostgresTaskQueue(url="redis://127.0.0.1:6379/0")
    with pytest.raises(ConfigError, match="pool sizes"):
        AsyncPostgresTaskQueue(url="postgresql://h/db", min_size=5, max_size=2)
    with pytest.raises(ConfigError, match="unknown option"):
        AsyncPostgresTaskQueue.from_dict({"url": "postgresql://h/db", "pasword": "x"})
    with pytest.raises(ConfigError):
        AsyncPostgresTaskQueue(url="postgresql://h/db", schema='bad"name')


# -- isolation ------------------------------------------------------------------------------------
async def test_two_projects_share_a_database_without_touching_each_other(
        postgres_dsn: str, project_name: str, cleanup: Callable[[str], str]) -> None:
    a, b = cleanup(project_name + "a"), cleanup(project_name + "b")
    async with AsyncPostgresTaskQueue(project_name=a, url=postgres_dsn) as qa, \
            AsyncPostgresTaskQueue(project_name=b, url=postgres_dsn) as qb:
        ids_a = await qa.enqueue_many(_tasks.identity, range(3))
        await qb.enqueue(_tasks.noop)
        assert await qa.count_tasks() == 3 and await qb.count_tasks() == 1
        got = await qb.claim(["default"], worker_id="w", lease=30,
                             now=datetime.now(UTC) + timedelta(seconds=1), limit=10)
        assert len(got) == 1 and got[0].id not in ids_a
        assert await qb.delete_tasks(ids_a) == 0
        assert await qa.count_tasks(status=TaskStatus.PENDING) == 3
        assert qa.schema == f"omniq_{a}" and qb.schema == f"omniq_{b}"


def test_long_project_names_get_a_schema_within_postgres_limits() -> None:
    name = "p" * 64
    queue = AsyncPostgresTaskQueue(project_name=name, url="postgresql://h/db")
    assert len(queue.schema) <= 63 and queue.schema.startswith("omniq_ppp")
    assert AsyncPostgresTaskQueue(project_name="q" * 64, url="postgresql://h/db").schema \
        != queue.schema


# -- errors ---------------------------------------------------------------------------------------
async def test_missing_database_is_a_clear_error_without_the_password(project_name: str) -> None:
    queue = AsyncPostgresTaskQueue(project_name=project_name,
                                   url="postgresql://postgres:s3cret@127.0.0.1:5432/omniq_nodb")
    with pytest.raises(BackendError) as caught:
        await queue.enqueue(_tasks.noop)
    message = str(caught.value)
    assert "omniq_nodb" in message and "does not exist" in message
    assert "postgres:***@127.0.0.1:5432" in message and "s3cret" not in message
    assert isinstance(caught.value.__cause__, asyncpg.InvalidCatalogNameError)


async def test_unreachable_server_is_backend_unavailable(project_name: str) -> None:
    queue = AsyncPostgresTaskQueue(project_name=project_name, host="127.0.0.1", port=1,
                                   username="postgres", password="hunter2", connect_timeout=2)
    with pytest.raises(BackendUnavailableError) as caught:
        await queue.enqueue(_tasks.noop)
    assert "127.0.0.1:1" in str(caught.value) and "hunter2" not in str(caught.value)
    assert not queue._connected  # the next call tries again


# -- migrations -----------------------------------------------------------------------------------
async def _versions(dsn: str, schema: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(f'SELECT component, version FROM "{schema}".omniq_schema_version')
    finally:
        await conn.close()
    return {r[0]: r[1] for r in rows}


#: The tables and indexes of version 1 of every component, as the release before the SQL
#: moved into this plugin created them: a schema recorded as version 1 holds exactly these.
SCHEMA_V1 = [
    "omniq_events(project text not null, id text not null, type text not null, ts double "
        "precision not null, task_id text, schedule_id text, body text not null)",
    "omniq_results(project text not null, task_id text not null, schedule_id text, "
        "finished_at double precision not null, expires_at double precision, data bytea not "
        "null)",
    "omniq_schedules(project text not null, id text not null, status text not null, "
        "next_run_at double precision, version integer not null, data bytea not null)",
    "omniq_schema_version(component text not null, version integer not null)",
    "omniq_task_deps(project text not null, parent_id text not null, child_id text not "
        "null)",
    "omniq_tasks(id text not null, queue text not null, status text not null, priority "
        "integer not null, run_at double precision not null, attempts integer not null, "
        "worker_id text, started_at double precision, lease_expires_at double precision, data "
        "bytea not null) "
        "fillfactor=90,autovacuum_vacuum_scale_factor=0.01,autovacuum_vacuum_threshold=1000,autovacuum_analyze_scale_factor=0.02,autovacuum_vacuum_cost_delay=0",
    "omniq_tasks_done(id text not null, queue text not null, status text not null, priority "
        "integer not null, run_at double precision not null, attempts integer not null, "
        "worker_id text, started_at double precision, lease_expires_at double precision, "
        "finished_at double precision, data bytea not null)",
    "CREATE UNIQUE INDEX omniq_events_pkey ON omniq_events USING btree (project, id)",
    "CREATE INDEX omniq_events_schedule ON omniq_events USING btree (project, schedule_id, "
        "ts) WHERE (schedule_id IS NOT NULL)",
    "CREATE INDEX omniq_events_task ON omniq_events USING btree (project, task_id, ts) "
        "WHERE (task_id IS NOT NULL)",
    "CREATE INDEX omniq_events_ts ON omniq_events USING btree (project, ts, id)",
    "CREATE INDEX omniq_events_type ON omniq_events USING btree (project, type, ts)",
    "CREATE INDEX omniq_results_expiry ON omniq_results USING btree (project, expires_at) "
        "WHERE (expires_at IS NOT NULL)",
    "CREATE UNIQUE INDEX omniq_results_pkey ON omniq_results USING btree (project, task_id)",
    "CREATE INDEX omniq_results_schedule ON omniq_results USING btree (project, "
        "schedule_id, finished_at) WHERE (schedule_id IS NOT NULL)",
    "CREATE INDEX omniq_schedules_due ON omniq_schedules USING btree (project, next_run_at) "
        "WHERE (status = 'active'::text)",
    "CREATE UNIQUE INDEX omniq_schedules_pkey ON omniq_schedules USING btree (project, id)",
    "CREATE UNIQUE INDEX omniq_schema_version_pkey ON omniq_schema_version USING btree "
        "(component)",
    "CREATE INDEX omniq_task_deps_child ON omniq_task_deps USING btree (project, child_id)",
    "CREATE UNIQUE INDEX omniq_task_deps_pkey ON omniq_task_deps USING btree (project, "
        "parent_id, child_id)",
    "CREATE INDEX omniq_tasks_done_finished ON omniq_tasks_done USING brin (finished_at)",
    "CREATE UNIQUE INDEX omniq_tasks_done_pkey ON omniq_tasks_done USING btree (id)",
    "CREATE INDEX omniq_tasks_done_status ON omniq_tasks_done USING btree (status, queue, "
        "id)",
    "CREATE INDEX omniq_tasks_leases ON omniq_tasks USING btree (lease_expires_at) WHERE "
        "(status = 'running'::text)",
    "CREATE UNIQUE INDEX omniq_tasks_pkey ON omniq_tasks USING btree (id)",
    "CREATE INDEX omniq_tasks_runnable ON omniq_tasks USING btree (queue, priority DESC, "
        "run_at, id) WHERE (status = ANY (ARRAY['pending'::text, 'retrying'::text]))",
]


async def _schema_of(dsn: str, schema: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch(
            "SELECT c.relname || '(' || string_agg(a.attname || ' ' "
            "|| format_type(a.atttypid, a.atttypmod) "
            "|| CASE WHEN a.attnotnull THEN ' not null' ELSE '' END, ', ' ORDER BY a.attnum) "
            "|| ')' || coalesce(' ' || array_to_string(c.reloptions, ','), '') "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
            "WHERE n.nspname = $1 AND c.relkind = 'r' GROUP BY c.relname, c.reloptions "
            "ORDER BY c.relname", schema)
        indexes = await conn.fetch("SELECT replace(indexdef, $2, '') FROM pg_indexes "
                                   "WHERE schemaname = $1 ORDER BY indexname",
                                   schema, f"{schema}.")
    finally:
        await conn.close()
    return [r[0] for r in [*tables, *indexes]]


async def test_version_1_is_the_schema_shipped_before(
        monkeypatch: pytest.MonkeyPatch, postgres_dsn: str, project_name: str,
        cleanup: Callable[[str], str]) -> None:
    schema = f"omniq_{cleanup(project_name)}"
    monkeypatch.setitem(engine_module.MIGRATIONS, "tasks",
                        {1: engine_module.MIGRATIONS["tasks"][1]})
    for component in (AsyncPostgresTaskQueue, AsyncPostgresResultStore,
                      AsyncPostgresEventStore):
        async with component(project_name=project_name, url=postgres_dsn):
            pass
    assert await _versions(postgres_dsn, schema) == {"tasks": 1, "results": 1, "events": 1}
    assert await _schema_of(postgres_dsn, schema) == SCHEMA_V1


async def test_versions_2_and_3_of_the_tasks_add_the_worker_registry_and_the_task_ids(
        postgres_dsn: str, project_name: str, cleanup: Callable[[str], str]) -> None:
    schema = f"omniq_{cleanup(project_name)}"
    async with AsyncPostgresTaskQueue(project_name=project_name, url=postgres_dsn):
        pass
    assert await _versions(postgres_dsn, schema) == {"tasks": 3}
    found = await _schema_of(postgres_dsn, schema)
    assert "omniq_workers(id text not null, last_heartbeat double precision not null, data " \
           "bytea not null)" in found
    assert "CREATE UNIQUE INDEX omniq_workers_pkey ON omniq_workers USING btree (id)" in found
    assert "omniq_task_ids(id text not null)" in found
    assert "CREATE UNIQUE INDEX omniq_task_ids_pkey ON omniq_task_ids USING btree (id)" in found


async def test_version_3_takes_in_the_ids_of_the_tasks_already_stored(
        postgres_dsn: str, project_name: str, cleanup: Callable[[str], str]) -> None:
    schema = f"omniq_{cleanup(project_name)}"
    async with AsyncOmniQ(project_name=project_name, task_queue=postgres_dsn) as oq:
        stored = await oq.enqueue(_tasks.noop, task_id="stored-before")
    conn = await asyncpg.connect(postgres_dsn)
    try:  # back to version 2, with a task stored
        await conn.execute(f'DROP TABLE "{schema}".omniq_task_ids')
        await conn.execute(f'UPDATE "{schema}".omniq_schema_version SET version = 2 '
                           "WHERE component = 'tasks'")
    finally:
        await conn.close()
    async with AsyncOmniQ(project_name=project_name, task_queue=postgres_dsn) as oq:
        assert await oq.enqueue(_tasks.noop, task_id="stored-before") == stored
        assert len(await oq.list_tasks()) == 1


async def test_an_enqueue_racing_the_completion_of_the_same_id_stores_it_once(
        postgres_dsn: str, project_name: str, cleanup: Callable[[str], str]) -> None:
    # The completion moves the row from omniq_tasks to omniq_tasks_done. An enqueue of that id
    # in between used to find it in neither table (the done row not committed yet, then the
    # live row gone) and store it again: the task ran twice.
    schema = f"omniq_{cleanup(project_name)}"
    async with AsyncOmniQ(project_name=project_name, task_queue=postgres_dsn) as oq:
        task_id = await oq.enqueue(_tasks.noop, task_id="once")
        mover = await asyncpg.connect(postgres_dsn)
        try:
            move = mover.transaction()
            await move.start()
            await mover.execute(
                f'INSERT INTO "{schema}".omniq_tasks_done (id, queue, status, priority, run_at, '
                "attempts, finished_at, data) SELECT id, queue, 'completed', priority, run_at, "
                f'1, 0, data FROM "{schema}".omniq_tasks WHERE id = $1', task_id)
            await mover.execute(f'DELETE FROM "{schema}".omniq_tasks WHERE id = $1', task_id)
            again = asyncio.ensure_future(oq.enqueue(_tasks.noop, task_id="once"))
            await asyncio.sleep(0.3)  # the enqueue runs while the move is not committed
            await move.commit()
            assert await again == task_id
            rows = await mover.fetchval(
                f'SELECT (SELECT count(*) FROM "{schema}".omniq_tasks WHERE id = $1) + '
                f'(SELECT count(*) FROM "{schema}".omniq_tasks_done WHERE id = $1)', task_id)
        finally:
            await mover.close()
        assert rows == 1
        assert (await oq.get_task(task_id)).status.value == "completed"


async def test_an_older_schema_is_upgraded_in_one_transaction(
        monkeypatch: pytest.MonkeyPatch, postgres_dsn: str, project_name: str,
        cleanup: Callable[[str], str]) -> None:
    schema = f"omniq_{cleanup(project_name)}"
    async with AsyncPostgresEventStore(project_name=project_name, url=postgres_dsn):
        pass
    assert await _versions(postgres_dsn, schema) == {"events": 1}
    upgrade = [*engine_module.MIGRATIONS["events"].items(),
               (2, ["ALTER TABLE omniq_events ADD COLUMN note text",
                    "CREATE INDEX omniq_events_note ON omniq_events (note)"])]
    monkeypatch.setitem(engine_module.MIGRATIONS, "events", dict(upgrade))
    async with AsyncPostgresEventStore(project_name=project_name, url=postgres_dsn) as store:
        assert await store.query() == []
    assert await _versions(postgres_dsn, schema) == {"events": 2}
    conn = await asyncpg.connect(postgres_dsn)
    try:
        assert await conn.fetchval("SELECT to_regclass($1)",
                                   f'"{schema}".omniq_events_note') is not None
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_nothing_half_done(
        monkeypatch: pytest.MonkeyPatch, postgres_dsn: str, project_name: str,
        cleanup: Callable[[str], str]) -> None:
    schema = f"omniq_{cleanup(project_name)}"
    async with AsyncPostgresEventStore(project_name=project_name, url=postgres_dsn):
        pass
    broken = {**engine_module.MIGRATIONS["events"],
              2: ["ALTER TABLE omniq_events ADD COLUMN note text", "THIS IS NOT SQL"]}
    monkeypatch.setitem(engine_module.MIGRATIONS, "events", broken)
    store = AsyncPostgresEventStore(project_name=project_name,
                                      url=postgres_dsn.replace("postgres@", "postgres:pw@"))
    with pytest.raises(BackendError) as caught:
        await store.connect()
    message = str(caught.value)
    assert "version 2 failed" in message and "still at version 1" in message
    assert "postgres:***@" in message and ":pw@" not in message
    assert await _versions(postgres_dsn, schema) == {"events": 1}
    conn = await asyncpg.connect(postgres_dsn)
    try:  # the first statement of the failed step was rolled back too
        columns = await conn.fetch("SELECT column_name FROM information_schema.columns "
                                   "WHERE table_schema = $1 AND table_name = 'omniq_events'",
                                   schema)
    finally:
        await conn.close()
    assert "note" not in {c[0] for c in columns}


async def test_older_schema_with_auto_migrate_off_and_newer_schema_are_refused(
        monkeypatch: pytest.MonkeyPatch, postgres_dsn: str, project_name: str,
        cleanup: Callable[[str], str]) -> None:
    schema = f"omniq_{cleanup(project_name)}"
    async with AsyncPostgresTaskQueue(project_name=project_name, url=postgres_dsn):
        pass
    conn = await asyncpg.connect(postgres_dsn)
    try:
        await conn.execute(f'UPDATE "{schema}".omniq_schema_version SET version = 99 '
                           "WHERE component = 'tasks'")
    finally:
        await conn.close()
    with pytest.raises(BackendError, match="version 99, newer .* Nothing was written"):
        await AsyncPostgresTaskQueue(project_name=project_name, url=postgres_dsn).connect()
    assert (await _versions(postgres_dsn, schema))["tasks"] == 99
    monkeypatch.setitem(engine_module.MIGRATIONS, "results",
                        {**engine_module.MIGRATIONS["results"], 2: ["SELECT 1"]})
    async with AsyncPostgresResultStore(project_name=project_name, url=postgres_dsn):
        pass  # creates the results tables at version 2
    monkeypatch.setitem(engine_module.MIGRATIONS, "results",
                        {**engine_module.MIGRATIONS["results"], 3: ["SELECT 1"]})
    with pytest.raises(BackendError, match="version 2, older than 3, and auto_migrate is off"):
        await AsyncPostgresResultStore(project_name=project_name, url=postgres_dsn,
                                         auto_migrate=False).connect()
    assert (await _versions(postgres_dsn, schema))["results"] == 2


async def test_concurrent_first_connects_create_the_schema_once(
        postgres_dsn: str, project_name: str, cleanup: Callable[[str], str]) -> None:
    cleanup(project_name)
    queues = [AsyncPostgresTaskQueue(project_name=project_name, url=postgres_dsn,
                                     server_settings={"application_name": f"c{i}"})
              for i in range(4)]  # distinct settings: four engines, four pools
    async with anyio.create_task_group() as tg:
        for q in queues:
            tg.start_soon(q.connect)
    for q in queues:
        await q.close()
    latest = max(engine_module.MIGRATIONS["tasks"])
    assert await _versions(postgres_dsn, f"omniq_{project_name}") == {"tasks": latest}


# -- the hot table --------------------------------------------------------------------------------
async def test_finished_tasks_move_out_of_the_hot_table_and_back_on_requeue(
        queue: AsyncPostgresTaskQueue, postgres_dsn: str) -> None:
    ids = await queue.enqueue_many(_tasks.identity, range(3))
    claimed = await queue.claim(["default"], worker_id="w", lease=30,
                                now=datetime.now(UTC) + timedelta(seconds=1), limit=3)
    now = datetime.now(UTC)
    from omniq.models import ErrorInfo

    await queue.finish([(queue.completed(claimed[0], now), 1),
                        (queue.failed(claimed[1], ErrorInfo("E", "boom"), now), 1)])
    db = await queue._db()
    hot = {r[0] for r in await db.fetch(f'SELECT id FROM "{queue.schema}".omniq_tasks')}
    done = {r[0] for r in await db.fetch(f'SELECT id FROM "{queue.schema}".omniq_tasks_done')}
    assert hot == {ids[2]} and done == {ids[0], ids[1]}
    assert [t.id for t in await queue.dead_letters()] == [ids[1]]
    assert await queue.requeue(ids[1])
    hot = {r[0] for r in await db.fetch(f'SELECT id FROM "{queue.schema}".omniq_tasks')}
    assert hot == {ids[1], ids[2]}
    assert (await queue.get_task(ids[1])).status == TaskStatus.PENDING
    # An id that finished stays known: enqueueing it again changes nothing.
    assert await queue.add_tasks([claimed[0]]) == [False]
    assert await queue.purge_finished(datetime.now(UTC) + timedelta(seconds=1)) == 1
    assert await queue.get_task(ids[0]) is None


async def test_a_write_whose_commit_was_not_acknowledged_succeeds_when_retried(
        queue: AsyncPostgresTaskQueue, monkeypatch: pytest.MonkeyPatch) -> None:
    task_id = await queue.enqueue(_tasks.noop)
    [claimed] = await queue.claim(["default"], worker_id="w", lease=30,
                                  now=datetime.now(UTC) + timedelta(seconds=1))
    done = queue.completed(claimed, datetime.now(UTC))
    engine = await queue._db()
    real = engine.fetchrow

    async def commit_then_lose_the_connection(sql: str, *args: Any) -> Any:
        await real(sql, *args)
        raise BackendUnavailableError("connection lost after the commit")

    monkeypatch.setattr(engine, "fetchrow", commit_then_lose_the_connection)
    with pytest.raises(BackendUnavailableError):
        await queue.finish([(done, 1)])
    monkeypatch.undo()
    assert (await queue.get_task(task_id)).status == TaskStatus.COMPLETED
    assert await queue.finish([(done, 1)]) == [True]  # the worker's retry: so its result is kept
    other = msgspec.structs.replace(done, progress="late")  # a different write stays fenced
    assert await queue.update_task(other, expect_status={TaskStatus.RUNNING},
                                   expect_attempts=1) is False


async def test_claim_reads_the_runnable_index_in_order(queue: AsyncPostgresTaskQueue) -> None:
    await queue.enqueue_many(_tasks.identity, range(2000), queue_name="b")
    db = await queue._db()
    await db.execute(f'ANALYZE "{queue.schema}".omniq_tasks')
    plan = await db.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + queue.sql["claim"],
                             ["a", "b"], time.time() + 1, 5, "w", time.time() + 30)
    assert "omniq_tasks_runnable" in plan
    assert "Seq Scan" not in plan and '"Actual Rows": 5' in plan


async def test_hot_statements_planned_on_empty_tables_stay_index_probes(
        queue: AsyncPostgresTaskQueue, postgres_dsn: str) -> None:
    """Plans are made once per connection, maybe while the tables are empty; they must not
    turn into scans of the whole backlog once it grows."""
    import omniq_postgres

    results = AsyncPostgresResultStore(project_name=queue.project_name, url=postgres_dsn)
    async with results:
        statements = {**{k: queue.sql[k] for k in ("add_tasks", "claim", "update_active",
                                                   "update_done", "get_task", "extend_lease",
                                                   "dependents")},
                      "put_results": results.sql["put_results"]}
    conn = await asyncpg.connect(postgres_dsn, server_settings=omniq_postgres.SERVER_SETTINGS)
    try:
        for name, sql in statements.items():
            types = ", ".join(p.name[1:] + "[]" if p.name.startswith("_") else p.name
                              for p in (await conn.prepare(sql)).get_parameters())
            await conn.execute(f"PREPARE {name} ({types}) AS {sql}")
            nulls = ", ".join("NULL" for _ in types.split(", "))
            plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN EXECUTE {name}({nulls})"))
            assert "Seq Scan on omniq" not in plan, (name, plan)
            assert not re.search(r"(Hash|Merge)( \w+)? Join", plan), (name, plan)
    finally:
        await conn.close()


# -- LISTEN / NOTIFY ------------------------------------------------------------------------------
async def test_wait_for_work_wakes_on_an_enqueue_from_another_connection(
        queue: AsyncPostgresTaskQueue, postgres_dsn: str) -> None:
    await queue.wait_for_work(["w"], 0.01)  # starts listening
    other = AsyncPostgresTaskQueue(project_name=queue.project_name, url=postgres_dsn,
                                   server_settings={"application_name": "producer"})
    async with other, anyio.create_task_group() as tg:
        async def produce() -> None:
            await anyio.sleep(0.1)
            await other.enqueue(_tasks.noop, queue_name="w")

        tg.start_soon(produce)
        started = time.monotonic()
        await queue.wait_for_work(["w"], 10)
        assert time.monotonic() - started < 2


async def test_an_idle_worker_wakes_when_a_delayed_task_comes_due(
        queue: AsyncPostgresTaskQueue) -> None:
    await queue.wait_for_work(["d"], 0.01)
    await queue.claim(["d"], worker_id="w", lease=30, now=datetime.now(UTC))
    await queue.enqueue(_tasks.noop, queue_name="d", run_in=0.6)
    await queue.claim(["d"], worker_id="w", lease=30, now=datetime.now(UTC))
    started = time.monotonic()
    await queue.wait_for_work(["d"], 10)  # no further NOTIFY: the eta wakes it
    assert 0.3 < time.monotonic() - started < 2
    got = await queue.claim(["d"], worker_id="w", lease=30, now=datetime.now(UTC))
    assert len(got) == 1


async def test_a_result_waiter_is_woken_by_notify_not_by_polling(
        postgres_dsn: str, project_name: str, cleanup: Callable[[str], str]) -> None:
    cleanup(project_name)
    reader = AsyncPostgresResultStore(project_name=project_name, url=postgres_dsn)
    writer = AsyncPostgresResultStore(project_name=project_name, url=postgres_dsn,
                                        server_settings={"application_name": "writer"})
    async with reader, writer:
        from omniq.models import TaskResult

        async with anyio.create_task_group() as tg:
            async def write_soon() -> None:
                await anyio.sleep(0.3)
                await writer.set(TaskResult(task_id="t1", status=TaskStatus.COMPLETED,
                                            result=42, finished_at=datetime.now(UTC)))

            tg.start_soon(write_soon)
            started = time.monotonic()
            # A poll interval of 60 s: only a NOTIFY can make this return in time.
            result = await reader.wait("t1", timeout=30, poll_interval=60)
            assert result.result == 42 and time.monotonic() - started < 2


async def test_listener_reconnects_after_its_connection_is_killed(
        queue: AsyncPostgresTaskQueue, postgres_dsn: str) -> None:
    await queue.wait_for_work(["r"], 0.01)
    engine = await queue._db()
    pid = engine.listener._conn.get_server_pid()
    conn = await asyncpg.connect(postgres_dsn)
    try:
        await conn.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await conn.close()
    async def reconnected() -> bool:
        while engine.listener._conn is None or engine.listener._conn.get_server_pid() == pid:
            await anyio.sleep(0.02)
        return True

    with anyio.fail_after(10):
        await reconnected()
    await queue.claim(["r"], worker_id="w", lease=30, now=datetime.now(UTC))
    async with anyio.create_task_group() as tg:
        async def produce() -> None:
            await anyio.sleep(0.1)
            await queue.enqueue(_tasks.noop, queue_name="r")

        tg.start_soon(produce)
        started = time.monotonic()
        await queue.wait_for_work(["r"], 10)
        assert time.monotonic() - started < 2


async def test_end_to_end_with_a_worker_and_get_result(
        postgres_dsn: str, project_name: str, cleanup: Callable[[str], str]) -> None:
    backend = AsyncPostgresBackend(project_name=cleanup(project_name), url=postgres_dsn)
    async with AsyncOmniQ(backend=backend, event_store=AsyncPostgresEventStore(
            project_name=project_name, url=postgres_dsn)) as oq:
        await oq.start_worker("async", max_workers=4)
        ids = await oq.enqueue_many(_tasks.add, [(i, i) for i in range(50)])
        with anyio.fail_after(20):
            values = [await oq.get_result(i, timeout=15) for i in ids]
        assert values == [2 * i for i in range(50)]
        await oq.stop_worker()
        types = {e.type.value for e in await oq.get_events(ids[0])}
        assert {"ENQUEUED", "EXECUTING", "COMPLETE"} <= types


def test_sync_omniq_on_postgres(postgres_dsn: str, project_name: str) -> None:
    try:
        with OmniQ(project_name=project_name, backend_type="postgres", url=postgres_dsn) as oq:
            oq.start_worker("thread_pool", max_workers=2)
            task_id = oq.enqueue(_tasks.add, 20, 22)
            assert oq.get_result(task_id, timeout=15) == 42
            oq.stop_worker()
    finally:
        asyncio.run(_drop(postgres_dsn, f"omniq_{project_name}"))
