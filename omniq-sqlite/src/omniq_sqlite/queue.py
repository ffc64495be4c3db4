"""``AsyncSQLiteTaskQueue``: tasks and schedules in an SQLite file (or ``:memory:``).

Tasks are stored whole (msgpack, in ``data``) beside the columns the queries need; tables,
indexes and statements are this plugin's own (``sql/*.sql``, loaded by :mod:`._sql`). The
claim is one ``BEGIN IMMEDIATE`` transaction per batch: ``UPDATE ... RETURNING`` over the
partial index of runnable tasks, so claiming costs the same with a thousand or a million tasks
waiting.

The encoded blob is authoritative: every read decodes ``data`` and nothing else, and every
write sets ``data`` and the columns copied from it (queue, status, priority, run_at,
lease_expires_at, attempts) in one transaction. A claim's ``UPDATE`` changes the columns, then
rewrites ``data`` of the rows it took before it commits, so the two never disagree.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec
from omniq.contract import Finished, ResultRecord
from omniq.models import (
    RUNNABLE,
    UNREADABLE,
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
from ._db import transaction
from .results import AsyncSQLiteResultStore

replace = msgspec.structs.replace
_schedule = msgspec.msgpack.Decoder(Schedule)
_encode = msgspec.msgpack.encode
#: Batches larger than this are written from the connection's thread, not the event loop.
HEAVY = 200


class SQLiteTaskQueueConfig(_SQLiteConnectionConfig, kw_only=True):
    """Settings of :class:`SQLiteTaskQueue` (``SQLiteTaskQueue.from_config(...)``)."""

    queues: list[str] | None = None


class AsyncSQLiteTaskQueue(SQLiteConnected, AsyncTaskQueue):
    """Task queue in an SQLite database, shared safely by the worker processes of one machine.

    Args:
        project_name: Namespace of this project's rows.
        url: ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or ``sqlite:///:memory:``.
        database_path: Path of the database file, or ``":memory:"``.
        base_dir: Directory of ``<project_name>.db`` when no path is given (default: the
            ``BASE_DIR`` setting, ``.omniq`` in the current directory); also the base of a
            relative ``database_path``.
        queues: Queue names in priority order.
        busy_timeout: Seconds to wait for another process's write lock before giving up.
        secret_key: Signing key.
    """

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
        return AsyncSQLiteResultStore(project_name=self.project_name,
                                        secret_key=self._secret_key,
                                        database_path=self.database_path)

    def _wake(self, tasks: Sequence[Task]) -> None:
        """Wake idle workers of the queues that got runnable tasks, and tell this process's
        waiters when delayed ones come due (other processes find those by polling)."""
        queues = {t.queue_name for t in tasks if t.status in RUNNABLE}
        if not queues or self._db is None:
            return
        now = time.time()
        for task in tasks:
            eta = task.run_at.timestamp()
            if task.status in RUNNABLE and eta > now:
                self._db.etas.add((self.project_name, task.queue_name), eta)
        self._db.notify((self.project_name, q) for q in queues)

    # -- tasks ---------------------------------------------------------------------------------
    async def add_tasks(self, tasks: Sequence[Task]) -> list[bool]:
        db = await self._database()
        project = self.project_name
        rows = [_sql.task_row(project, t) for t in tasks]
        deps = [[(project, p, t.id) for p in t.depends_on] for t in tasks]
        inserted = await db.write(_insert_tasks, rows, deps, heavy=len(rows) > HEAVY)
        self._wake([t for t, new in zip(tasks, inserted, strict=True) if new])
        return inserted

    async def claim(self, queues: Sequence[str], *, worker_id: str, lease: float,
                    now: datetime, limit: int = 1) -> list[Task]:
        if limit <= 0 or not queues:
            return []
        db = await self._database()
        expires = now + timedelta(seconds=lease)
        return await db.read(_claim, self.project_name, list(queues), worker_id, now, expires,
                             limit)

    async def get_task(self, task_id: str) -> Task | None:
        db = await self._database()
        rows = await db.fetchall(_sql.GET_TASK, (self.project_name, task_id))
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
        db = await self._database()
        rows = None if not results else [
            None if r is None else _sql.result_row(self.project_name, *r) for r in results]
        oks, parents = await db.write(_update_tasks, *self._update_args(updates), rows,
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

    def _update_args(self, updates: Sequence[tuple[Task, Collection[TaskStatus], int | None]]
                     ) -> tuple[list[tuple[str, tuple[Any, ...]] | None], str, list[str]]:
        """The fenced statements of ``updates``, the project, the finished tasks' ids."""
        statements: list[tuple[str, tuple[Any, ...]] | None] = []
        for task, statuses, attempts in updates:
            ordered = sorted(str(s) for s in statuses)
            if not ordered:
                statements.append(None)
                continue
            statements.append((_sql.update_task_sql(len(ordered), attempts is not None),
                               _sql.update_task_params(self.project_name, task,
                                                       [TaskStatus(s) for s in ordered],
                                                       attempts)))
        return statements, self.project_name, [t.id for t, _, _ in updates if t.is_finished]

    async def modify_running(self, task_id: str, attempts: int,
                             change: Callable[[Task], Task]) -> Task | None:
        db = await self._database()  # one write transaction: nothing lands in between
        return await db.write(_modify_running, self.project_name, task_id, attempts, change)

    async def list_tasks(self, *, queue_name: str | None = None,
                         status: TaskStatus | None = None, limit: int = 100,
                         offset: int = 0) -> list[Task]:
        db = await self._database()
        sql, params = _sql.select_tasks(self.project_name, queue_name=queue_name, status=status,
                                        limit=limit, offset=offset)
        return [decode_task(*r) for r in await db.fetchall(sql, params)]

    async def page_tasks(self, *, queue_name: str | None = None,
                         status: TaskStatus | None = None, after: str | None = None,
                         descending: bool = False, limit: int = 100) -> list[Task]:
        if limit <= 0:
            return []
        db = await self._database()
        # A queue alone: one index range per status (omniq_tasks_queue_status), merged.
        statuses = list(TaskStatus) if queue_name is not None and status is None else [status]
        queries = [_sql.page_tasks(self.project_name, queue_name=queue_name, status=s,
                                   after=after, descending=descending, limit=limit)
                   for s in statuses]
        rows = await db.read(_fetch_merged, queries, descending, limit)
        return [decode_task(*r) for r in rows]

    async def task_counts(self) -> dict[str, dict[TaskStatus, int]]:
        db = await self._database()
        counts: dict[str, dict[TaskStatus, int]] = {}
        for queue, status, n in await db.fetchall(_sql.TASK_COUNTS, (self.project_name,)):
            counts.setdefault(queue, {})[TaskStatus(status)] = n
        return counts

    async def count_tasks(self, *, queue_name: str | None = None,
                          status: TaskStatus | None = None) -> int:
        db = await self._database()
        sql, params = _sql.select_tasks(self.project_name, queue_name=queue_name, status=status,
                                        count=True)
        return int((await db.fetchall(sql, params))[0][0])

    async def expired_leases(self, now: datetime, limit: int = 100) -> list[Task]:
        db = await self._database()
        rows = await db.fetchall(_sql.EXPIRED_LEASES, (self.project_name, now.timestamp(), limit))
        return [decode_task(*r) for r in rows]

    async def dependents(self, task_id: str) -> list[Task]:
        db = await self._database()
        rows = await db.fetchall(_sql.DEPENDENTS, (self.project_name, task_id))
        return [decode_task(*r) for r in rows]

    async def delete_tasks(self, task_ids: Sequence[str]) -> int:
        if not task_ids:
            return 0
        db = await self._database()
        return await db.write(_delete_tasks, self.project_name, list(task_ids),
                              heavy=len(task_ids) > HEAVY)

    async def wait_for_work(self, queues: Sequence[str], timeout: float) -> None:
        """Return when work may be runnable in ``queues``: at once when a process using this
        file enqueues (in-process signal, or a datagram from another process), within a few
        ms when any other writer commits (``PRAGMA data_version``), when a task this process
        delayed comes due, else after ``timeout``."""
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
                if await db.read(_has_work, self.project_name, names, time.time()):
                    return "work"
                return None

            if await db.wait(keys, until - time.time(), check) != "sooner":
                return  # work, a known eta has come, or the time is up

    # -- schedules -----------------------------------------------------------------------------
    async def add_schedule(self, schedule: Schedule) -> bool:
        db = await self._database()
        return await db.write(_changed, _sql.INSERT_SCHEDULE,
                              _sql.schedule_row(self.project_name, schedule)) == 1

    async def get_schedule(self, schedule_id: str) -> Schedule | None:
        db = await self._database()
        rows = await db.fetchall(_sql.GET_SCHEDULE, (self.project_name, schedule_id))
        return _schedule.decode(rows[0][0]) if rows else None

    async def list_schedules(self, *, status: ScheduleStatus | None = None) -> list[Schedule]:
        db = await self._database()
        if status is None:
            rows = await db.fetchall(_sql.LIST_SCHEDULES, (self.project_name,))
        else:
            rows = await db.fetchall(_sql.LIST_SCHEDULES_BY_STATUS,
                                     (self.project_name, ScheduleStatus(status).value))
        return [_schedule.decode(r[0]) for r in rows]

    async def update_schedule(self, schedule: Schedule, *, expect_version: int) -> bool:
        db = await self._database()
        params = _sql.update_schedule_params(self.project_name, schedule, expect_version)
        return await db.write(_changed, _sql.UPDATE_SCHEDULE, params) == 1

    async def delete_schedule(self, schedule_id: str) -> bool:
        db = await self._database()
        return await db.write(_changed, _sql.DELETE_SCHEDULE,
                              (self.project_name, schedule_id)) == 1

    async def due_schedules(self, now: datetime, limit: int = 100) -> list[Schedule]:
        db = await self._database()
        rows = await db.fetchall(_sql.DUE_SCHEDULES, (self.project_name, now.timestamp(), limit))
        return [_schedule.decode(r[0]) for r in rows]

    # -- the worker registry -------------------------------------------------------------------
    async def put_worker(self, worker: WorkerInfo) -> None:
        db = await self._database()
        await db.write(_changed, _sql.PUT_WORKER, _sql.worker_row(self.project_name, worker))

    async def list_workers(self) -> list[WorkerInfo]:
        db = await self._database()
        rows = await db.fetchall(_sql.LIST_WORKERS, (self.project_name,))
        return decode_workers(r[0] for r in rows)

    async def delete_workers(self, worker_ids: Sequence[str]) -> int:
        if not worker_ids:
            return 0
        db = await self._database()
        return await db.write(_delete_workers, self.project_name, list(worker_ids))


# -- what runs in the connection's thread ----------------------------------------------------------

def _changed(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> int:
    return conn.execute(sql, params).rowcount


def _insert_tasks(conn: sqlite3.Connection, rows: list[tuple[Any, ...]],
                  deps: list[list[tuple[str, str, str]]]) -> list[bool]:
    inserted = []
    for row, edges in zip(rows, deps, strict=True):
        new = conn.execute(_sql.INSERT_TASK, row).rowcount == 1
        if new and edges:
            conn.executemany(_sql.INSERT_DEP, edges)
        inserted.append(new)
    return inserted


def _fetch_merged(conn: sqlite3.Connection, queries: list[tuple[str, list[Any]]],
                  descending: bool, limit: int) -> list[tuple[bytes, str]]:
    """The first ``limit`` rows, in id order, of queries each already in that order."""
    if len(queries) == 1:
        return conn.execute(*queries[0]).fetchall()
    rows = [row for sql, params in queries for row in conn.execute(sql, params)]
    return sorted(rows, key=lambda row: row[1], reverse=descending)[:limit]


def _has_work(conn: sqlite3.Connection, project: str, queues: list[str], now: float) -> bool:
    return any(conn.execute(_sql.HAS_WORK, (project, q, now)).fetchone() for q in queues)


def _claim(conn: sqlite3.Connection, project: str, queues: list[str], worker_id: str,
           now: datetime, expires: datetime, limit: int) -> list[Task]:
    now_ts = now.timestamp()
    # A read first: idle workers polling an empty queue never take the write lock.
    if not _has_work(conn, project, queues, now_ts):
        return []
    return transaction(conn, _claim_locked, project, queues, worker_id, now, expires, limit)


def _claim_locked(conn: sqlite3.Connection, project: str, queues: list[str], worker_id: str,
                  now: datetime, expires: datetime, limit: int) -> list[Task]:
    claimed: list[Task] = []
    sql, expires_ts, now_ts = _sql.CLAIM, expires.timestamp(), now.timestamp()
    for queue in queues:
        rows = conn.execute(sql, (expires_ts, project, project, queue, now_ts,
                                  limit - len(claimed))).fetchall()
        found = sorted((_claimed(*r) for r in rows), key=lambda t: (-t.priority, t.run_at, t.id))
        claimed.extend(replace(t, status=TaskStatus.RUNNING, worker_id=worker_id,
                               started_at=now, lease_expires_at=expires) for t in found)
        if len(claimed) >= limit:
            break
    conn.executemany(_sql.SET_TASK_DATA, [(_encode(t), project, t.id) for t in claimed])
    return claimed


def _claimed(data: bytes, task_id: str, attempts: int, queue: str) -> Task:
    """A row the claim returned: its record, with the attempt the claim counted (and, for a
    record that cannot be read, the queue it was found in)."""
    task = decode_task(data, task_id)
    task.attempts = attempts
    if task.func_name == UNREADABLE:
        task.queue_name = queue
    return task


def _modify_running(conn: sqlite3.Connection, project: str, task_id: str, attempts: int,
                    change: Callable[[Task], Task]) -> Task | None:
    row = conn.execute(_sql.GET_RUNNING, (project, task_id, attempts)).fetchone()
    if row is None:
        return None
    new = change(decode_task(*row))
    conn.execute(_sql.update_task_sql(1, True),
                 _sql.update_task_params(project, new, [TaskStatus.RUNNING], attempts))
    return new


def _update_tasks(conn: sqlite3.Connection, statements: list[tuple[str, tuple[Any, ...]] | None],
                  project: str, finished: list[str],
                  results: list[tuple[Any, ...] | None] | None = None
                  ) -> tuple[list[bool], set[str]]:
    """Fenced updates, and the result rows (one per update, or None) of those that were
    written; also which finished tasks have dependents (read in the same transaction, so the
    answer holds: a child enqueued later sees its parent finished)."""
    oks = [stmt is not None and conn.execute(*stmt).rowcount == 1 for stmt in statements]
    if results:
        conn.executemany(_sql.PUT_RESULT, [row for row, ok in zip(results, oks, strict=True)
                                           if ok and row is not None])
    parents: set[str] = set()
    for start in range(0, len(finished), 500):
        chunk = finished[start:start + 500]
        parents.update(r[0] for r in conn.execute(_sql.parents_among_sql(len(chunk)),
                                                  (project, *chunk)))
    return oks, parents


def _delete_workers(conn: sqlite3.Connection, project: str, ids: list[str]) -> int:
    return sum(conn.execute(_sql.DELETE_WORKER, (project, i)).rowcount for i in ids)


def _delete_tasks(conn: sqlite3.Connection, project: str, ids: list[str]) -> int:
    removed = 0
    for start in range(0, len(ids), 300):  # stay under SQLite's host-parameter limit
        chunk = ids[start:start + 300]
        tasks_sql, deps_sql = _sql.delete_tasks_sql(len(chunk))
        removed += conn.execute(tasks_sql, (project, *chunk)).rowcount
        conn.execute(deps_sql, (project, *chunk, *chunk))
    return removed




class SQLiteTaskQueue(TaskQueue, twin_of=AsyncSQLiteTaskQueue):
    """Blocking twin of :class:`AsyncSQLiteTaskQueue`."""



__all__ = [ "AsyncSQLiteTaskQueue", "SQLiteTaskQueue",
           "SQLiteTaskQueueConfig"]
