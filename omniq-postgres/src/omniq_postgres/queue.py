"""``AsyncPostgresTaskQueue``: the task queue on PostgreSQL (asyncpg).

Every primitive is one statement (one round trip, one commit): a claim takes a batch with
``FOR UPDATE SKIP LOCKED`` through a partial index of runnable tasks; a batch of completions is
written, fenced, by one ``UPDATE``/``DELETE ... INSERT`` over ``unnest`` arrays that also moves
finished tasks out of the hot table; enqueue is one multi-row insert that NOTIFYs idle workers,
who wait on LISTEN rather than poll.

Columns ``status``, ``attempts``, ``worker_id``, ``started_at`` and ``lease_expires_at`` are
authoritative (a claim and a lease extension change only them); every read goes through
:func:`_task`, which lays them over the decoded blob.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec
from omniq.clock import from_epoch
from omniq.clock import to_epoch as epoch
from omniq.contract import Finished, ResultRecord
from omniq.exceptions import BackendUnavailableError
from omniq.models import (
    FINISHED,
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

from ._base import PostgresComponent
from ._config import PostgresTaskQueueConfig
from ._engine import qualify
from ._wakeups import QueueWakeups

_encode = msgspec.msgpack.Encoder().encode
_decode_schedule = msgspec.msgpack.Decoder(Schedule).decode
_STATUS = {s.value: s for s in TaskStatus}
_Update = tuple[Task, Collection[TaskStatus], int | None]
_ROW = "data, status, attempts, worker_id, started_at, lease_expires_at, id"
_MAX_UNCERTAIN = 10_000
#: Inside ``finish_tasks``: ids just finished that had no dependents when written.
_childless: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar(
    "omniq_postgres_childless", default=None)
#: Inside ``finish_tasks``: commit without waiting for the WAL flush (see there).
_lazy: contextvars.ContextVar[bool] = contextvars.ContextVar("omniq_postgres_lazy",
                                                               default=False)


def _wake_payloads(tasks: Iterable[Task]) -> list[str]:
    """The task channel's payloads for these tasks (see ``_wakeups.py``): the earliest eta of
    the runnable ones, per queue."""
    wake: dict[str, float] = {}
    for task in tasks:
        if task.status in RUNNABLE:
            eta = task.run_at.timestamp()
            wake[task.queue_name] = min(wake.get(task.queue_name, eta), eta)
    return [f"{q} {eta!r}" for q, eta in wake.items()]


def _task(row: Any) -> Task:
    task = decode_task(row[0], row[6])
    # A claim changes these columns and not the blob: the columns are the truth.
    task.status = _STATUS[row[1]]
    task.attempts = row[2]
    task.worker_id = row[3]
    task.started_at = from_epoch(row[4])
    task.lease_expires_at = from_epoch(row[5])
    return task


class AsyncPostgresTaskQueue(PostgresComponent, AsyncTaskQueue):
    """Tasks and schedules in PostgreSQL, in the schema ``omniq_<project_name>``.

    Args:
        project_name: Namespace (the schema ``omniq_<project_name>``).
        queues: Queue names in priority order (first served first).
        url, dsn: ``postgresql://user:password@host:port/database`` (two names for one
            setting).
        host, port, username, password, database: Connection parameters, overriding the
            URL's. Unset ones come from the ``PG*`` environment variables and libpq's defaults
            (``localhost:5432``, database = user name).
        schema: Schema for the tables instead of ``omniq_<project_name>``.
        pool: An existing asyncpg pool to use (it is not closed by us).
        min_size, max_size: Pool sizes (default 1 and 10).
        connect_timeout: Seconds to wait for a connection (default 10).
        auto_migrate: Upgrade an older schema on first use (default True).
        server_settings: Session settings, e.g. ``{"application_name": "worker"}``.
        secret_key: Signing key (default ``OMNIQ_SECRET_KEY`` or the project's key).
    """

    config_class = PostgresTaskQueueConfig
    pushes_work = True
    statement_files = ("tasks.sql", "schedules.sql", "workers.sql")
    component = "tasks"

    def __init__(self, *, project_name: str | None = None, queues: Sequence[str] | None = None,
                 url: str | None = None, dsn: str | None = None, host: str | None = None,
                 port: int | None = None, username: str | None = None,
                 password: str | None = None, database: str | None = None,
                 schema: str | None = None, pool: Any = None, min_size: int | None = None,
                 max_size: int | None = None, connect_timeout: float | None = None,
                 auto_migrate: bool = True, server_settings: Mapping[str, str] | None = None,
                 secret_key: str | None = None) -> None:
        # Not PostgresComponent.__init__: its signature has no queues.
        AsyncTaskQueue.__init__(self, project_name=project_name, queues=queues,
                                secret_key=secret_key)
        self._init_connection(url=url, dsn=dsn, host=host, port=port, username=username,
                              password=password, database=database, schema=schema, pool=pool,
                              min_size=min_size, max_size=max_size,
                              connect_timeout=connect_timeout, auto_migrate=auto_migrate,
                              server_settings=server_settings)
        self._wakeups = QueueWakeups()
        self._uncertain: dict[str, bytes] = {}

    def default_result_store(self) -> Any:
        """A result store in the same schema, for ``OmniQ(task_queue=...)`` alone."""
        from .results import AsyncPostgresResultStore

        return AsyncPostgresResultStore(project_name=self.project_name,
                                          secret_key=self._secret_key,
                                          **self._connection_args)

    # -- tasks ---------------------------------------------------------------------------------
    async def add_tasks(self, tasks: Sequence[Task]) -> list[bool]:
        if not tasks:
            return []
        db = await self._db()
        parents: list[str] = []
        children: list[str] = []
        for task in tasks:
            for parent in task.depends_on:
                parents.append(parent)
                children.append(task.id)
        row = await db.fetchrow(
            self.sql["add_tasks"], [t.id for t in tasks], [t.queue_name for t in tasks],
            [t.status.value for t in tasks], [t.priority for t in tasks],
            [t.run_at.timestamp() for t in tasks], [_encode(t) for t in tasks], parents,
            children, self._channel("t"), _wake_payloads(tasks), self.project_name)
        inserted = set(row["ids"])
        result = []
        for task in tasks:  # a duplicate id within the batch is inserted once
            result.append(task.id in inserted)
            inserted.discard(task.id)
        return result

    async def claim(self, queues: Sequence[str], *, worker_id: str, lease: float,
                    now: datetime, limit: int = 1) -> list[Task]:
        db = await self._db()
        self._wakeups.snapshot(queues)
        at = now.timestamp()
        rows = await db.fetch(self.sql["claim"], list(queues), at, limit, worker_id, at + lease)
        expires = now + timedelta(seconds=lease)
        tasks = []
        for data, attempts, task_id, queue in rows:
            task = decode_task(data, task_id)
            task.queue_name = queue  # the column it was claimed by is the truth, as in SQLite
            task.status, task.attempts, task.worker_id = TaskStatus.RUNNING, attempts, worker_id
            task.started_at, task.lease_expires_at = now, expires
            tasks.append(task)
        position = {q: i for i, q in enumerate(queues)}
        tasks.sort(key=lambda t: (position[t.queue_name], -t.priority, t.run_at, t.id))
        return tasks

    async def renew_lease(self, task_id: str, attempts: int,
                          expires_at: datetime) -> Task | None:
        """One fenced statement, returning the stored task with its new lease: unlike a read
        followed by a write, this cannot drop progress or a cancel request written in
        between."""
        row = await (await self._db()).fetchrow(self.sql["extend_lease"], task_id, attempts,
                                                expires_at.timestamp())
        return None if row is None else _task(row)

    async def modify_running(self, task_id: str, attempts: int,
                             change: Callable[[Task], Task]) -> Task | None:
        """A compare-and-set on the stored blob, tried again while other writes land."""
        db = await self._db()
        while True:
            row = await db.fetchrow(self.sql["get_running"], task_id, attempts)
            if row is None:
                return None
            new = change(_task(row))
            if await db.fetchval(self.sql["replace_running"], task_id, attempts, row[0],
                                 _encode(new), epoch(new.lease_expires_at)) is not None:
                return new

    async def get_task(self, task_id: str) -> Task | None:
        row = await (await self._db()).fetchrow(self.sql["get_task"], task_id)
        return None if row is None else _task(row)

    async def update_task(self, task: Task, *, expect_status: Collection[TaskStatus],
                          expect_attempts: int | None = None) -> bool:
        return (await self._update_many([(task, expect_status, expect_attempts)]))[0]

    async def _update_many(self, updates: Sequence[_Update]) -> list[bool]:
        """Fenced writes, in one statement per source table (usually just one)."""
        if len({u[0].id for u in updates}) < len(updates):  # same task twice: in order
            return [(await self._update_many([u]))[0] for u in updates]
        ok = [False] * len(updates)
        expects = [{TaskStatus(s) for s in u[1]} for u in updates]
        for name, wanted in (("update_active", False), ("update_done", True)):
            picked = [i for i, e in enumerate(expects)
                      if not ok[i] and (bool(e & FINISHED) if wanted else bool(e - FINISHED))]
            if picked:
                written = await self._write(name, [updates[i] for i in picked])
                for i in picked:
                    ok[i] = updates[i][0].id in written
        missed = [i for i, done in enumerate(ok) if not done
                  and self._uncertain.get(updates[i][0].id) == _encode(updates[i][0])]
        if missed:  # an earlier try of these very writes may have committed unacknowledged
            tasks = [updates[i][0] for i in missed]
            found = {r[0] for r in await (await self._db()).fetch(
                self.sql["already_written"], [t.id for t in tasks], [_encode(t) for t in tasks],
                [t.status.value for t in tasks], [t.attempts for t in tasks])}
            for i in missed:
                ok[i] = updates[i][0].id in found
        for task, _, _ in updates:
            self._uncertain.pop(task.id, None)
        return ok

    async def _write(self, name: str, updates: Sequence[_Update]) -> set[str]:
        db = await self._db()
        rows = [(task.id, task.status.value, ",".join(TaskStatus(s).value for s in expect),
                 attempts, task.queue_name, task.priority, task.run_at.timestamp(), task.attempts,
                 task.worker_id, epoch(task.started_at), epoch(task.lease_expires_at),
                 epoch(task.finished_at), _encode(task), task.status in FINISHED)
                for task, expect, attempts in updates]
        columns = [list(c) for c in zip(*rows, strict=True)]
        try:
            lazy = _lazy.get()
            _lazy.set(False)  # only the attempts themselves; what follows from them is flushed
            row = await db.fetchrow(self.sql[name], *columns, self._channel("t"),
                                    _wake_payloads(u[0] for u in updates),
                                    self.project_name, "off" if lazy else "on")
        except BackendUnavailableError:
            if len(self._uncertain) > _MAX_UNCERTAIN:
                self._uncertain.clear()
            self._uncertain.update((r[0], r[12]) for r in rows)
            raise
        written = set(row["ids"])
        childless = _childless.get()
        if childless is not None:
            has_children = set(row["parents"])
            childless.update(r[0] for r in rows
                             if r[13] and r[0] in written and r[0] not in has_children)
        return written

    async def finish_tasks(self, updates: Sequence[tuple[Task, int]],
                           results: Sequence[ResultRecord | None] | None = None
                           ) -> list[Finished]:
        """Write finished attempts in one statement, committing lazily.

        The worker's writes of attempts do not wait for the WAL flush: after a server *crash*
        (not a restart) the last few hundred milliseconds of them may be forgotten, and those
        tasks run again (at least once still holds). Their results, written right after with
        a synchronous commit, flush them too: a result that can be read is never lost, and
        neither is the completion before it. What follows from them (dependents released or
        cancelled) is committed synchronously, which flushes them as well.
        """
        lazy, childless = _lazy.set(True), _childless.set(set())
        try:
            oks = await self._update_many(
                [(task, (TaskStatus.RUNNING,), attempt) for task, attempt in updates])
            alone = _childless.get() or set()
        finally:
            _childless.reset(childless)
            _lazy.reset(lazy)
        return [Finished.FENCED if not ok else Finished.WRITTEN if task.id in alone
                else Finished.WRITTEN_WITH_DEPENDENTS
                for (task, _), ok in zip(updates, oks, strict=True)]

    def _select(self, what: str, queue_name: str | None, status: TaskStatus | str | None,
                args: list[Any]) -> str:
        where = []
        if queue_name is not None:
            args.append(queue_name)
            where.append(f"queue = ${len(args)}")
        tables = ["omniq_tasks", "omniq_tasks_done"]
        if status is not None:
            status = TaskStatus(status)  # an enum value: safe as a literal, and lets the
            where.append(f"status = '{status.value}'")  # planner use the partial indexes
            tables = ["omniq_tasks_done" if status in FINISHED else "omniq_tasks"]
        cond = " AND ".join(where) or "TRUE"
        return qualify(" UNION ALL ".join(f"SELECT {what} FROM {t} WHERE {cond}" for t in tables),
                       self.schema)

    async def list_tasks(self, *, queue_name: str | None = None,
                         status: TaskStatus | None = None, limit: int = 100,
                         offset: int = 0) -> list[Task]:
        args: list[Any] = []
        inner = self._select(_ROW, queue_name, status, args)
        sql = (f"SELECT {_ROW} FROM ({inner}) x ORDER BY id "
               f"LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}")
        rows = await (await self._db()).fetch(sql, *args, limit, offset)
        return [_task(r) for r in rows]

    async def page_tasks(self, *, queue_name: str | None = None,
                         status: TaskStatus | None = None, after: str | None = None,
                         descending: bool = False, limit: int = 100) -> list[Task]:
        """One index range in id order per part of the selection, merged: the hot table by
        its primary key; finished tasks by (status, queue, id), one queue at a time when no
        queue is given (the queues found by a loose index scan), or by their primary key
        when neither status nor queue is."""
        if limit <= 0:
            return []
        args: list[Any] = [limit]
        order, cmp = ("id DESC", "<") if descending else ("id", ">")
        where = []
        if queue_name is not None:
            args.append(queue_name)
            where.append(f"queue = ${len(args)}")
        if after is not None:
            args.append(after)
            where.append(f"id {cmp} ${len(args)}")
        statuses = [TaskStatus(status)] if status is not None else list(TaskStatus)
        hot, done = "omniq_tasks", "omniq_tasks_done"

        def part(table: str, conds: list[str]) -> str:
            cond = " AND ".join(conds) or "TRUE"
            return f"SELECT {_ROW} FROM {table} WHERE {cond} ORDER BY {order} LIMIT $1"

        parts = []
        unfinished = [s for s in statuses if s not in FINISHED]
        if unfinished:
            named = "" if status is None else f"status = '{unfinished[0].value}'"
            parts.append(part(hot, [c for c in (named, *where) if c]))
        finished = [s for s in statuses if s in FINISHED]
        if finished and status is None and queue_name is None:
            parts.append(part(done, where))
        elif finished and queue_name is not None:
            parts += [part(done, [f"status = '{s.value}'", *where]) for s in finished]
        elif finished:  # one finished status, every queue
            literal = f"status = '{finished[0].value}'"
            inner = part(done, [literal, "queue = qs.queue", *where])
            parts.append(
                f"WITH RECURSIVE qs(queue) AS (SELECT min(queue) FROM {done} WHERE {literal} "
                f"UNION ALL SELECT (SELECT min(queue) FROM {done} WHERE {literal} AND "
                f"queue > qs.queue) FROM qs WHERE qs.queue IS NOT NULL) "
                f"SELECT x.* FROM qs CROSS JOIN LATERAL ({inner}) x WHERE qs.queue IS NOT NULL")
        union = " UNION ALL ".join(f"SELECT * FROM ({p}) p{i}" for i, p in enumerate(parts))
        sql = qualify(f"SELECT {_ROW} FROM ({union}) x ORDER BY {order} LIMIT $1", self.schema)
        rows = await (await self._db()).fetch(sql, *args)
        return [_task(r) for r in rows]

    async def task_counts(self) -> dict[str, dict[TaskStatus, int]]:
        sql = qualify(" UNION ALL ".join(
            f"SELECT queue, status, count(*) FROM {table} GROUP BY queue, status"
            for table in ("omniq_tasks", "omniq_tasks_done")), self.schema)
        counts: dict[str, dict[TaskStatus, int]] = {}
        for queue, status, n in await (await self._db()).fetch(sql):
            counts.setdefault(queue, {})[_STATUS[status]] = int(n)
        return counts

    async def count_tasks(self, *, queue_name: str | None = None,
                          status: TaskStatus | None = None) -> int:
        args: list[Any] = []
        inner = self._select("count(*) AS n", queue_name, status, args)
        return int(await (await self._db()).fetchval(f"SELECT sum(n) FROM ({inner}) x", *args))

    async def expired_leases(self, now: datetime, limit: int = 100) -> list[Task]:
        rows = await (await self._db()).fetch(self.sql["expired_leases"], now.timestamp(), limit)
        return [_task(r) for r in rows]

    async def dependents(self, task_id: str) -> list[Task]:
        rows = await (await self._db()).fetch(self.sql["dependents"], task_id,
                                              self.project_name)
        return [_task(r) for r in rows]

    async def delete_tasks(self, task_ids: Sequence[str]) -> int:
        return int(await (await self._db()).fetchval(self.sql["delete_tasks"], list(task_ids),
                                                     self.project_name))

    async def purge_finished(self, before: datetime) -> int:
        """Delete finished tasks (completed, failed, cancelled, expired) that finished before
        ``before``; returns how many. Results live on in the result store until their ttl."""
        return int(await (await self._db()).fetchval(self.sql["purge_finished"],
                                                     before.timestamp(), self.project_name))

    async def wait_for_work(self, queues: Sequence[str], timeout: float) -> None:
        """Block until a NOTIFY says work arrived in ``queues``, a known eta comes due, or
        ``timeout`` passes. Never raises: with the server down it just waits."""
        import anyio

        try:
            if self._subscribed is None:
                db = await self._listen("t", self._wakeups)
                # Learn the delayed tasks enqueued before we listened; anything that arrived
                # in between is found by looking again now.
                etas = await db.fetch(self.sql["next_etas"], list(queues), time.time())
                self._wakeups.add_etas((r[0], r[1]) for r in etas)
                return
        except Exception:
            await anyio.sleep(timeout)
            return
        await self._wakeups.wait(queues, timeout)

    # -- schedules ------------------------------------------------------------------------------
    async def add_schedule(self, schedule: Schedule) -> bool:
        status = await (await self._db()).execute(
            self.sql["insert_schedule"], self.project_name, schedule.id, schedule.status.value,
            epoch(schedule.next_run_at), schedule.version, _encode(schedule))
        return status.endswith(" 1")

    async def get_schedule(self, schedule_id: str) -> Schedule | None:
        data = await (await self._db()).fetchval(self.sql["get_schedule"],
                                                 self.project_name, schedule_id)
        return None if data is None else _decode_schedule(data)

    async def list_schedules(self, *, status: ScheduleStatus | None = None) -> list[Schedule]:
        db = await self._db()
        if status is None:
            rows = await db.fetch(self.sql["list_schedules"], self.project_name)
        else:
            rows = await db.fetch(self.sql["list_schedules_by_status"],
                                  self.project_name, ScheduleStatus(status).value)
        return [_decode_schedule(r[0]) for r in rows]

    async def update_schedule(self, schedule: Schedule, *, expect_version: int) -> bool:
        status = await (await self._db()).execute(
            self.sql["update_schedule"], schedule.status.value, epoch(schedule.next_run_at),
            schedule.version, _encode(schedule), self.project_name, schedule.id, expect_version)
        return status == "UPDATE 1"

    async def delete_schedule(self, schedule_id: str) -> bool:
        status = await (await self._db()).execute(self.sql["delete_schedule"],
                                                  self.project_name, schedule_id)
        return status == "DELETE 1"

    async def due_schedules(self, now: datetime, limit: int = 100) -> list[Schedule]:
        rows = await (await self._db()).fetch(self.sql["due_schedules"],
                                              self.project_name, now.timestamp(), limit)
        return [_decode_schedule(r[0]) for r in rows]

    # -- the worker registry -------------------------------------------------------------------
    async def put_worker(self, worker: WorkerInfo) -> None:
        await (await self._db()).execute(self.sql["put_worker"], worker.id,
                                         worker.last_heartbeat.timestamp(), _encode(worker))

    async def list_workers(self) -> list[WorkerInfo]:
        rows = await (await self._db()).fetch(self.sql["list_workers"])
        return decode_workers(r[0] for r in rows)

    async def delete_workers(self, worker_ids: Sequence[str]) -> int:
        if not worker_ids:
            return 0
        return int(await (await self._db()).fetchval(self.sql["delete_workers"],
                                                     list(worker_ids)))


class PostgresTaskQueue(TaskQueue, twin_of=AsyncPostgresTaskQueue):
    """Blocking twin of :class:`AsyncPostgresTaskQueue`."""


__all__ = ["AsyncPostgresTaskQueue", "PostgresTaskQueue", "PostgresTaskQueueConfig"]
