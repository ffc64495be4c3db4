"""``AsyncSQLiteTaskQueue``: tasks and schedules in an SQLite file (or ``:memory:``).

Tasks and schedules are stored whole (msgpack, in ``data``), and that blob is authoritative:
reads decode ``data`` only, and every write sets it with the columns copied from it for the
queries, in one transaction (a claim's ``UPDATE`` changes the columns, then rewrites ``data``
of the rows it took before it commits). The claim walks the partial index of runnable tasks,
so it costs the same with a thousand or a million tasks waiting.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec
from omniq.clock import to_epoch
from omniq.contract import Finished, ResultRecord
from omniq.models import (
    RUNNABLE,
    Schedule,
    ScheduleStatus,
    Task,
    TaskStatus,
    WorkerInfo,
    decode_task,
    decode_workers,
)
from omniq.queue import AsyncTaskQueue
from omniq.sync import TaskQueue

from . import _sql
from ._config import _SQLiteConnectionConfig
from ._connected import SQLiteConnected
from ._db import HEAVY, transaction
from ._sql import SQL
from .results import AsyncSQLiteResultStore

replace = msgspec.structs.replace
_schedule = msgspec.msgpack.Decoder(Schedule)
_encode = msgspec.msgpack.encode
#: Inserts of up to this many tasks run on the event loop, not in the connection's thread
#: (``HEAVY``): their caller has just held the loop as long to build them, and a hop to the
#: thread costs more CPU than it frees, the two threads taking turns at the GIL (a bulk
#: enqueue's chunks of 1,000: 21-24 us of CPU a task inline, 30-46 us through the thread).
INLINE_INSERT = 1000


class SQLiteTaskQueueConfig(_SQLiteConnectionConfig, kw_only=True):
    """Settings of :class:`SQLiteTaskQueue` (``SQLiteTaskQueue.from_config(...)``)."""

    queues: list[str] | None = None


class AsyncSQLiteTaskQueue(SQLiteConnected, AsyncTaskQueue):
    """Task queue in an SQLite database, shared safely by the worker processes of one machine;
    ``queues`` in priority order, the other settings as
    :class:`~omniq_sqlite._connected.SQLiteConnected` says."""

    config_class = SQLiteTaskQueueConfig
    schema = "tasks"

    def __init__(self, *, project_name: str | None = None, secret_key: str | None = None,
                 url: str | None = None, database_path: str | os.PathLike[str] | None = None,
                 base_dir: str | os.PathLike[str] | None = None,
                 queues: Sequence[str] | None = None, busy_timeout: float | None = None) -> None:
        AsyncTaskQueue.__init__(self, project_name=project_name, queues=queues,
                                secret_key=secret_key)
        self._locate(url, database_path, base_dir, busy_timeout)

    def default_result_store(self) -> AsyncSQLiteResultStore:
        """A result store in the same database (used when none is configured)."""
        return AsyncSQLiteResultStore(project_name=self.project_name, secret_key=self._secret_key,
                                      database_path=self.database_path)

    def _wake(self, tasks: Sequence[Task]) -> None:
        """Wake idle workers of the queues that got runnable tasks, and tell this process's
        waiters when delayed ones come due (other processes find those by polling)."""
        runnable = [t for t in tasks if t.status in RUNNABLE]
        if not runnable or self._db is None:
            return
        now = time.time()
        for task in runnable:
            if (eta := task.run_at.timestamp()) > now:
                self._db.etas.add((self.project_name, task.queue_name), eta)
        self._db.notify({(self.project_name, t.queue_name) for t in runnable})

    # -- tasks ---------------------------------------------------------------------------------
    async def add_tasks(self, tasks: Sequence[Task]) -> list[bool]:
        db = await self._database()
        project = self.project_name
        rows = [_sql.task_row(project, t) for t in tasks]
        deps = [[(project, p, t.id) for p in t.depends_on] for t in tasks]
        inserted = await db.write(_insert_tasks, rows, deps, heavy=len(rows) > INLINE_INSERT)
        self._wake([t for t, new in zip(tasks, inserted, strict=True) if new])
        return inserted

    async def claim(self, queues: Sequence[str], *, worker_id: str, lease: float,
                    now: datetime, limit: int = 1) -> list[Task]:
        if limit <= 0 or not queues:
            return []
        db = await self._database()
        expires = now + timedelta(seconds=lease)
        return await db.run(_claim, self.project_name, list(queues), worker_id, now, expires,
                            limit)

    async def get_task(self, task_id: str) -> Task | None:
        rows = await self._fetchall(SQL["get_task"], (self.project_name, task_id))
        return decode_task(*rows[0]) if rows else None

    async def update_task(self, task: Task, *, expect_status: Collection[TaskStatus],
                          expect_attempts: int | None = None) -> bool:
        return (await self._write_updates([(task, expect_status, expect_attempts)]))[0][0]

    async def _write_updates(self, updates: Sequence[tuple[Task, Collection[TaskStatus],
                                                           int | None]],
                             results: Sequence[ResultRecord | None] | None = None
                             ) -> tuple[list[bool], set[str]]:
        """Fenced writes and the results of those that landed, in one write transaction; also
        which finished tasks have dependents (read in that transaction)."""
        if not updates:
            return [], set()
        db, project = await self._database(), self.project_name
        statements = [_sql.update_task(project, task, sorted(str(s) for s in statuses), attempts)
                      if statuses else None for task, statuses, attempts in updates]
        rows = None if not results else [
            None if r is None else _sql.result_row(project, *r) for r in results]
        finished = [t.id for t, _, _ in updates if t.is_finished]
        oks, parents = await db.write(_update_tasks, statements, project, finished, rows,
                                      heavy=len(updates) > HEAVY)
        self._wake([t for (t, _, _), ok in zip(updates, oks, strict=True) if ok])
        if results:
            db.notify((self.project_name, "result", r.task_id)
                      for r, ok in zip(results, oks, strict=True) if ok and r is not None)
        return oks, parents

    async def finish_tasks(self, updates: Sequence[tuple[Task, int]],
                           results: Sequence[ResultRecord | None] | None = None
                           ) -> list[Finished]:
        oks, parents = await self._write_updates(
            [(task, (TaskStatus.RUNNING,), attempt) for task, attempt in updates], results)
        return [Finished.FENCED if not ok else Finished.WRITTEN_WITH_DEPENDENTS
                if task.id in parents else Finished.WRITTEN
                for (task, _), ok in zip(updates, oks, strict=True)]

    def writes_results_for(self, store: Any) -> bool:
        """Yes for an SQLite result store of this project in this queue's database."""
        return (isinstance(store, AsyncSQLiteResultStore)
                and store.project_name == self.project_name
                and store.database_path == self.database_path)

    async def modify_running(self, task_id: str, attempts: int,
                             change: Callable[[Task], Task]) -> Task | None:
        db = await self._database()  # one write transaction: nothing lands in between
        return await db.write(_modify_running, self.project_name, task_id, attempts, change)

    async def renew_leases(self, leases: Sequence[tuple[str, int, datetime]]
                           ) -> list[Task | None]:
        """One write transaction of two statements, whatever the number of leases: each
        statement of the connection gives up the GIL, and beside CPU-bound threads getting it
        back takes ~20 ms (eight renewals one by one took 1.9 s)."""
        if not leases:
            return []
        db = await self._database()
        return await db.write(_renew_leases, self.project_name, list(leases))

    async def list_tasks(self, *, queue_name: str | None = None,
                         status: TaskStatus | None = None, limit: int = 100,
                         offset: int = 0) -> list[Task]:
        sql, params = self._filter(SQL["list_tasks"], queue_name, status)
        rows = await self._fetchall(sql, [*params, limit, offset])
        return [decode_task(*r) for r in rows]

    async def page_tasks(self, *, queue_name: str | None = None,
                         status: TaskStatus | None = None, after: str | None = None,
                         descending: bool = False, limit: int = 100) -> list[Task]:
        if limit <= 0:
            return []
        # A queue alone: one index range per status (omniq_tasks_queue_status), merged.
        statuses = list(TaskStatus) if queue_name is not None and status is None else [status]
        sql = SQL["page_tasks"].replace("{order}", "id DESC" if descending else "id")
        after_id = ("id < ?" if descending else "id > ?", after)
        queries = [self._filter(sql, queue_name, s, after_id) for s in statuses]
        db = await self._database()
        rows = await db.run(_fetch_merged, queries, descending, limit)
        return [decode_task(*r) for r in rows]

    async def task_counts(self) -> dict[str, dict[TaskStatus, int]]:
        counts: dict[str, dict[TaskStatus, int]] = {}
        for queue, status, n in await self._fetchall(SQL["task_counts"], (self.project_name,)):
            counts.setdefault(queue, {})[TaskStatus(status)] = n
        return counts

    async def count_tasks(self, *, queue_name: str | None = None,
                          status: TaskStatus | None = None) -> int:
        sql, params = self._filter(SQL["count_tasks"], queue_name, status)
        rows = await self._fetchall(sql, params)
        return int(rows[0][0])

    def _filter(self, sql: str, queue_name: str | None, status: TaskStatus | None,
                *more: tuple[str, Any]) -> tuple[str, list[Any]]:
        return _sql.where(sql, self.project_name, ("queue = ?", queue_name),
                          ("status = ?", None if status is None else TaskStatus(status).value),
                          *more)

    async def expired_leases(self, now: datetime, limit: int = 100) -> list[Task]:
        rows = await self._fetchall(SQL["expired_leases"],
                                    (self.project_name, now.timestamp(), limit))
        return [decode_task(*r) for r in rows]

    async def dependents(self, task_id: str) -> list[Task]:
        rows = await self._fetchall(SQL["dependents"], (self.project_name, task_id))
        return [decode_task(*r) for r in rows]

    async def delete_tasks(self, task_ids: Sequence[str]) -> int:
        if not task_ids:
            return 0
        db = await self._database()
        return await db.write(_delete_tasks, self.project_name, list(task_ids),
                              heavy=len(task_ids) > HEAVY)

    async def wait_for_work(self, queues: Sequence[str], timeout: float) -> None:
        """Return when work may be runnable in ``queues``: at once when a process using this
        file enqueues, within a few ms when any other writer commits (``PRAGMA data_version``),
        when a task this process delayed comes due, else after ``timeout``."""
        db = await self._database()
        names = list(queues)
        keys = [(self.project_name, q) for q in names]
        end = time.time() + timeout
        while True:
            eta = db.etas.next(keys)
            until = end if eta is None else min(end, eta)
            if until <= time.time():
                return

            async def check(until: float = until) -> str | None:
                sooner = db.etas.next(keys)
                if sooner is not None and sooner < until:
                    return "sooner"  # a task delayed meanwhile comes due first: re-plan
                if await db.run(_has_work, self.project_name, names, time.time()):
                    return "work"
                return None

            if await db.wait(keys, until - time.time(), check) != "sooner":
                return  # work, a known eta has come, or the time is up

    # -- schedules -----------------------------------------------------------------------------
    async def add_schedule(self, schedule: Schedule) -> bool:
        return await self._execute(SQL["insert_schedule"], (
            self.project_name, schedule.id, schedule.status.value,
            to_epoch(schedule.next_run_at), schedule.version, _encode(schedule))) == 1

    async def get_schedule(self, schedule_id: str) -> Schedule | None:
        rows = await self._fetchall(SQL["get_schedule"], (self.project_name, schedule_id))
        return _schedule.decode(rows[0][0]) if rows else None

    async def list_schedules(self, *, status: ScheduleStatus | None = None) -> list[Schedule]:
        sql, params = _sql.where(SQL["list_schedules"], self.project_name, (
            "status = ?", None if status is None else ScheduleStatus(status).value))
        rows = await self._fetchall(sql, params)
        return [_schedule.decode(r[0]) for r in rows]

    async def update_schedule(self, schedule: Schedule, *, expect_version: int) -> bool:
        return await self._execute(SQL["update_schedule"], (
            schedule.status.value, to_epoch(schedule.next_run_at), schedule.version,
            _encode(schedule), self.project_name, schedule.id, expect_version)) == 1

    async def delete_schedule(self, schedule_id: str) -> bool:
        return await self._execute(SQL["delete_schedule"], (self.project_name, schedule_id)) == 1

    async def due_schedules(self, now: datetime, limit: int = 100) -> list[Schedule]:
        rows = await self._fetchall(SQL["due_schedules"],
                                    (self.project_name, now.timestamp(), limit))
        return [_schedule.decode(r[0]) for r in rows]

    # -- the worker registry -------------------------------------------------------------------
    async def put_worker(self, worker: WorkerInfo) -> None:
        await self._execute(SQL["put_worker"], (self.project_name, worker.id,
                                                worker.last_heartbeat.timestamp(), _encode(worker)))

    async def list_workers(self) -> list[WorkerInfo]:
        rows = await self._fetchall(SQL["list_workers"], (self.project_name,))
        return decode_workers(r[0] for r in rows)

    async def delete_workers(self, worker_ids: Sequence[str]) -> int:
        if not worker_ids:
            return 0
        db = await self._database()
        return await db.executemany(SQL["delete_worker"],
                                    [(self.project_name, i) for i in worker_ids])


# -- what runs in the connection's thread ----------------------------------------------------------

def _insert_tasks(conn: sqlite3.Connection, rows: list[tuple[Any, ...]],
                  deps: list[list[tuple[str, str, str]]]) -> list[bool]:
    inserted = []
    for row, edges in zip(rows, deps, strict=True):
        new = conn.execute(SQL["insert_task"], row).rowcount == 1
        if new and edges:
            conn.executemany(SQL["insert_dep"], edges)
        inserted.append(new)
    return inserted


def _fetch_merged(conn: sqlite3.Connection, queries: list[tuple[str, list[Any]]],
                  descending: bool, limit: int) -> list[tuple[bytes, str]]:
    """The first ``limit`` rows, in id order, of queries each already in that order (each
    query is given ``limit`` as its last parameter)."""
    rows = [row for sql, params in queries for row in conn.execute(sql, [*params, limit])]
    return sorted(rows, key=lambda row: row[1], reverse=descending)[:limit]


def _has_work(conn: sqlite3.Connection, project: str, queues: list[str], now: float) -> bool:
    return any(conn.execute(SQL["has_work"], (project, q, now)).fetchone() for q in queues)


def _claim(conn: sqlite3.Connection, project: str, queues: list[str], worker_id: str,
           now: datetime, expires: datetime, limit: int) -> list[Task]:
    # A read first: idle workers polling an empty queue never take the write lock.
    if not _has_work(conn, project, queues, now.timestamp()):
        return []

    def claim(conn: sqlite3.Connection) -> list[Task]:
        claimed: list[Task] = []
        for queue in queues:
            rows = conn.execute(SQL["claim"], (expires.timestamp(), project, project, queue,
                                               now.timestamp(), limit - len(claimed))).fetchall()
            # The queue the row was found in: a stand-in for an unreadable record has none.
            found = [replace(decode_task(data, task_id), queue_name=in_queue,
                             status=TaskStatus.RUNNING, attempts=attempts, worker_id=worker_id,
                             started_at=now, lease_expires_at=expires)
                     for data, task_id, attempts, in_queue in rows]
            claimed += sorted(found, key=lambda t: (-t.priority, t.run_at, t.id))
            if len(claimed) >= limit:
                break
        conn.executemany(SQL["set_task_data"], [(_encode(t), project, t.id) for t in claimed])
        return claimed

    return transaction(conn, claim)


def _modify_running(conn: sqlite3.Connection, project: str, task_id: str, attempts: int,
                    change: Callable[[Task], Task]) -> Task | None:
    row = conn.execute(SQL["get_running"], (project, task_id, attempts)).fetchone()
    if row is None:
        return None
    new = change(decode_task(*row))
    conn.execute(*_sql.update_task(project, new, [TaskStatus.RUNNING.value], attempts))
    return new


def _renew_leases(conn: sqlite3.Connection, project: str,
                  leases: list[tuple[str, int, datetime]]) -> list[Task | None]:
    """Read the running attempts among ``leases`` in one statement, write their leases in one
    more (per 500); a later expiry already stored is kept (a task's own extension)."""
    renewed: list[Task | None] = []
    for start in range(0, len(leases), 500):
        chunk = leases[start:start + 500]
        rows = conn.execute(_sql.with_ids("get_among", len(chunk)),
                            (project, *(task_id for task_id, _, _ in chunk))).fetchall()
        stored = {task_id: decode_task(data, task_id) for data, task_id in rows}
        written = []
        for task_id, attempts, expires_at in chunk:
            task = stored.get(task_id)
            if task is not None and task.status == TaskStatus.RUNNING and task.attempts == attempts:
                held = task.lease_expires_at or expires_at
                task = replace(task, lease_expires_at=max(held, expires_at))
                written.append(task)
            else:
                task = None
            renewed.append(task)
        if written:
            sql = SQL["set_leases"].replace("{rows}", ", ".join(["(?, ?, ?)"] * len(written)))
            conn.execute(sql, (*(value for task in written for value in (
                task.id, to_epoch(task.lease_expires_at), _encode(task))), project))
    return renewed


def _update_tasks(conn: sqlite3.Connection, statements: list[tuple[str, tuple[Any, ...]] | None],
                  project: str, finished: list[str], results: list[tuple[Any, ...] | None] | None
                  ) -> tuple[list[bool], set[str]]:
    """Fenced updates, the result rows (one per update, or None) of those written, and which
    finished tasks have dependents (read in the same transaction, so the answer holds)."""
    oks = [stmt is not None and conn.execute(*stmt).rowcount == 1 for stmt in statements]
    if results:
        conn.executemany(SQL["put_result"], [row for row, ok in zip(results, oks, strict=True)
                                           if ok and row is not None])
    parents: set[str] = set()
    for start in range(0, len(finished), 500):
        chunk = finished[start:start + 500]
        parents.update(r[0] for r in conn.execute(_sql.with_ids("parents_among", len(chunk)),
                                                  (project, *chunk)))
    return oks, parents


def _delete_tasks(conn: sqlite3.Connection, project: str, ids: list[str]) -> int:
    removed = 0
    for start in range(0, len(ids), 300):  # stay under SQLite's host-parameter limit
        chunk = ids[start:start + 300]
        removed += conn.execute(_sql.with_ids("delete_tasks", len(chunk)),
                                (project, *chunk)).rowcount
        conn.execute(_sql.with_ids("delete_deps", len(chunk)), (project, *chunk, *chunk))
    return removed


class SQLiteTaskQueue(TaskQueue, twin_of=AsyncSQLiteTaskQueue):
    """Blocking twin of :class:`AsyncSQLiteTaskQueue`."""


__all__ = ["AsyncSQLiteTaskQueue", "SQLiteTaskQueue", "SQLiteTaskQueueConfig"]
