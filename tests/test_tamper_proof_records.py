"""Stored records cannot be altered unseen, nor stall the queue when damaged.

The signature binds a task's id and every field that decides how it runs; a record whose
fields were changed, a payload replayed under another id, and a record that cannot be decoded
are all dead-lettered without running, while honest tasks beside them keep flowing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
from omniq import AsyncOmniQ
from omniq.models import UNREADABLE, TaskStatus
from omniq.testing import _tasks
from test_nats_conformance import drop_project_streams
from test_postgres_conformance import drop_schema
from test_redis_conformance import drop_project_keys

RAN: list[str] = []


def record_run(tag: str) -> str:
    RAN.append(tag)
    return tag


async def _settled(oq: AsyncOmniQ, task_id: str) -> Any:
    with anyio.fail_after(20):
        while True:
            task = await oq.get_task(task_id)
            if task.status in (TaskStatus.COMPLETED, TaskStatus.FAILED):
                return task
            await anyio.sleep(0.05)


# -- bindings (the core's check, on a store the record can be changed in) ------------------------
@pytest.fixture
async def oq(project_name: str, tmp_path: Path) -> AsyncIterator[AsyncOmniQ]:
    async with AsyncOmniQ(project_name=project_name,
                          task_queue=f"sqlite:///{tmp_path / 'omniq.db'}") as client:
        yield client


@pytest.mark.anyio
@pytest.mark.parametrize("change", [
    {"max_retries": 99}, {"timeout": 1e6}, {"queue_name": "elsewhere"},
    {"depends_on": [], "status": TaskStatus.PENDING},  # run before its parent
    {"store_result": False}, {"max_deliveries": 1000},
])
async def test_a_changed_bound_field_is_refused(oq: AsyncOmniQ,
                                                change: dict[str, Any]) -> None:
    queue = oq.task_queue
    honest = await oq.enqueue(_tasks.noop)
    parent = await oq.enqueue(_tasks.noop) if "depends_on" in change else None
    victim = await oq.enqueue(record_run, "victim",
                              depends_on=[parent] if parent else None)
    stored = await queue.get_task(victim)
    await queue.update_task(msgspec.structs.replace(stored, **change),
                            expect_status={stored.status})
    RAN.clear()
    await oq.start_worker(worker_type="async", max_workers=2, queues=["default", "elsewhere"])
    try:
        assert (await _settled(oq, honest)).status == TaskStatus.COMPLETED
        refused = await _settled(oq, victim)
    finally:
        await oq.stop_worker()
    assert refused.status == TaskStatus.FAILED
    assert "changed after it was signed" in refused.error.message
    assert next(iter(change)) in refused.error.message
    assert RAN == []


@pytest.mark.anyio
async def test_a_payload_replayed_under_another_id_is_refused(oq: AsyncOmniQ) -> None:
    original = await oq.task_queue.get_task(await oq.enqueue(record_run, "original"))
    replay = msgspec.structs.replace(original, id="replayed-" + original.id)
    assert await oq.task_queue.add_tasks([replay]) == [True]
    RAN.clear()
    await oq.start_worker(worker_type="async")
    try:
        refused = await _settled(oq, replay.id)
        await _settled(oq, original.id)
    finally:
        await oq.stop_worker()
    assert refused.status == TaskStatus.FAILED
    assert "id (signed" in refused.error.message
    assert RAN == ["original"]


@pytest.mark.anyio
async def test_schedule_fires_are_bound_to_their_own_ids(oq: AsyncOmniQ) -> None:
    schedule_id = await oq.schedule(record_run, "fired", interval=3600, run_at=None)
    fired = await oq.task_queue.fire_due_schedules()
    assert fired
    RAN.clear()
    await oq.start_worker(worker_type="async")
    try:
        task = await _settled(oq, fired[0])
    finally:
        await oq.stop_worker()
    assert task.status == TaskStatus.COMPLETED and task.schedule_id == schedule_id
    assert RAN == ["fired"]


# -- damaged records, on every persistent engine -------------------------------------------------
def _rename_a_field(blob: bytes) -> bytes:
    """One flip of a letter: the record now has a field named 'quaue_name'."""
    assert b"queue_name" in blob
    return blob.replace(b"queue_name", b"quaue_name", 1)


def _garble(blob: bytes) -> bytes:
    return b"\xc1" + blob[1:]  # 0xc1 is never valid msgpack


@pytest.fixture(params=["sqlite", "redis", "postgres", "nats"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path,
                 project_name: str) -> AsyncIterator[tuple[AsyncOmniQ, Callable[..., Any]]]:
    kind = request.param
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'omniq.db'}"
    elif kind == "redis":
        url = request.getfixturevalue("redis_url")
    elif kind == "nats":
        url = request.getfixturevalue("nats_url")
    else:
        url = request.getfixturevalue("postgres_dsn")
    async with AsyncOmniQ(project_name=project_name, task_queue=url) as oq:
        yield oq, _damager(kind, oq)
    if kind == "redis":
        await drop_project_keys(url, project_name)
    elif kind == "postgres":
        await drop_schema(url, project_name)
    elif kind == "nats":
        await drop_project_streams(url, project_name)


def _damager(kind: str, oq: AsyncOmniQ) -> Callable[..., Any]:
    queue: Any = oq.task_queue

    async def damage(task_id: str, how: Callable[[bytes], bytes]) -> None:
        if kind == "sqlite":
            db = await queue._database()
            rows = await db.fetchall("SELECT data FROM omniq_tasks WHERE project = ? AND id = ?",
                                     (queue.project_name, task_id))
            await db.write(lambda conn: conn.execute(
                "UPDATE omniq_tasks SET data = ? WHERE project = ? AND id = ?",
                (how(rows[0][0]), queue.project_name, task_id)))
        elif kind == "redis":
            key = queue.prefix + "t:" + task_id
            await queue.client.hset(key, "d", how(await queue.client.hget(key, "d")))
        elif kind == "nats":
            from omniq_nats.queue import _task_key

            entry = await queue._kv.get(_task_key(task_id))
            await queue._kv.put(_task_key(task_id), how(entry.value))
        else:
            db, table = await queue._db(), f'"{queue.schema}".omniq_tasks'
            blob = await db.fetchval(f"SELECT data FROM {table} WHERE id = $1", task_id)
            await db.execute(f"UPDATE {table} SET data = $2 WHERE id = $1", task_id, how(blob))
    return damage


@pytest.mark.anyio
@pytest.mark.parametrize("how", [_rename_a_field, _garble], ids=["renamed-field", "garbled"])
async def test_a_damaged_record_is_dead_lettered_and_the_queue_keeps_flowing(
        engine: tuple[AsyncOmniQ, Callable[..., Any]], how: Callable[[bytes], bytes]) -> None:
    oq, damage = engine
    victim = await oq.enqueue(record_run, "victim", queue_name="work")
    honest = await oq.enqueue(record_run, "honest", queue_name="work")
    await damage(victim, how)
    RAN.clear()
    # NATS keeps no queue beside the record: a damaged one is dead-lettered from "default".
    await oq.start_worker(worker_type="async", queues=["work", "default"])
    try:
        assert (await _settled(oq, honest)).status == TaskStatus.COMPLETED
        moved = await _settled(oq, victim)
    finally:
        await oq.stop_worker()
    assert RAN == ["honest"]
    assert moved.status == TaskStatus.FAILED and moved.func_name == UNREADABLE
    assert victim in [t.id for t in await oq.task_queue.dead_letters(moved.queue_name)]
    if not isinstance(oq.task_queue, _no_columns()):
        assert moved.queue_name == "work"  # listed among its own queue's dead letters


def _no_columns() -> type:
    from omniq_nats import AsyncNATSTaskQueue

    return AsyncNATSTaskQueue
