"""This plugin's SQL: the named statements of ``sql/*.sql`` and the parameters they take.

Each file holds ``-- name: x`` blocks (see the file's header for what they touch); this module
loads them once and names them, and builds the parameter tuples in the order each statement
expects, so a statement and its column order are read in two places only: its file and here.
A few statements have ``{...}`` slots (an ``IN`` list of variable length, optional filters)
that the builders below fill in.

The msgpack-encoded ``data`` is the truth for a task or schedule; the columns beside it are
copies of some of its fields, written in the same statement, that queries filter and sort by.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from importlib import resources
from typing import Any

import msgspec
from omniq.clock import to_epoch
from omniq.models import Schedule, Task, TaskEvent, TaskStatus, WorkerInfo

_NAME_LINE = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def read_sql(filename: str) -> str:
    return resources.files(__package__).joinpath("sql", filename).read_text(encoding="utf-8")


def statements(filename: str) -> dict[str, str]:
    """The named statements (``-- name: x`` blocks) of one of our files."""
    parts = _NAME_LINE.split(read_sql(filename))
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def script(filename: str) -> list[str]:
    """The statements of a file of ``;``-terminated statements (a migration step), one by one:
    ``executescript`` would commit the transaction the step must run in."""
    found: list[str] = []
    current = ""
    for line in read_sql(filename).splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            found.append(current.strip())
            current = ""
    return found


def marks(n: int) -> str:
    """``?, ?, ?`` for an IN list of ``n`` values."""
    return ", ".join("?" * n)


# -- tasks ----------------------------------------------------------------------------------------

_TASKS = statements("tasks.sql")
INSERT_TASK = _TASKS["insert_task"]
INSERT_DEP = _TASKS["insert_dep"]
GET_TASK = _TASKS["get_task"]
GET_RUNNING = _TASKS["get_running"]
EXPIRED_LEASES = _TASKS["expired_leases"]
DEPENDENTS = _TASKS["dependents"]
CLAIM = _TASKS["claim"]
SET_TASK_DATA = _TASKS["set_task_data"]
HAS_WORK = _TASKS["has_work"]


def task_row(project: str, task: Task, data: bytes | None = None) -> tuple[Any, ...]:
    """Parameters of :data:`INSERT_TASK` for ``task``."""
    return (project, task.id, task.queue_name, task.status.value, task.priority,
            task.run_at.timestamp(), to_epoch(task.lease_expires_at), task.attempts,
            msgspec.msgpack.encode(task) if data is None else data)


def update_task_sql(n_statuses: int, fenced: bool) -> str:
    return (_TASKS["update_task"].replace("{statuses}", marks(n_statuses))
            .replace("{attempts}", " AND attempts = ?" if fenced else ""))


def update_task_params(project: str, task: Task, expect_status: Sequence[TaskStatus],
                       expect_attempts: int | None) -> tuple[Any, ...]:
    """Parameters of :func:`update_task_sql` (``expect_status`` in a stable order)."""
    params: tuple[Any, ...] = (
        task.queue_name, task.status.value, task.priority, task.run_at.timestamp(),
        to_epoch(task.lease_expires_at), task.attempts, msgspec.msgpack.encode(task), project,
        task.id, *(s.value if isinstance(s, TaskStatus) else str(s) for s in expect_status))
    return params if expect_attempts is None else (*params, expect_attempts)


def parents_among_sql(n: int) -> str:
    """Which of ``n`` task ids have dependents (params: project, ids...)."""
    return _TASKS["parents_among"].replace("{ids}", marks(n))


def select_tasks(project: str, *, queue_name: str | None, status: TaskStatus | None,
                 count: bool = False, limit: int = 100,
                 offset: int = 0) -> tuple[str, list[Any]]:
    """``list_tasks`` / ``count_tasks`` query and parameters."""
    where, params = ["project = ?"], [project]
    if queue_name is not None:
        where.append("queue = ?")
        params.append(queue_name)
    if status is not None:
        where.append("status = ?")
        params.append(TaskStatus(status).value)
    if count:
        return _TASKS["count_tasks"].replace("{where}", " AND ".join(where)), params
    return (_TASKS["list_tasks"].replace("{where}", " AND ".join(where)),
            [*params, limit, offset])


TASK_COUNTS = _TASKS["task_counts"]


def page_tasks(project: str, *, queue_name: str | None, status: TaskStatus | None,
               after: str | None, descending: bool, limit: int) -> tuple[str, list[Any]]:
    """``page_tasks`` query and parameters (a queue without a status is read one status at a
    time by the caller, so each query walks one index range in id order)."""
    where, params = ["project = ?"], [project]
    if queue_name is not None:
        where.append("queue = ?")
        params.append(queue_name)
    if status is not None:
        where.append("status = ?")
        params.append(TaskStatus(status).value)
    if after is not None:
        where.append("id < ?" if descending else "id > ?")
        params.append(after)
    sql = (_TASKS["page_tasks"].replace("{where}", " AND ".join(where))
           .replace("{order}", "id DESC" if descending else "id"))
    return sql, [*params, limit]


def delete_tasks_sql(n: int) -> tuple[str, str]:
    """Statements removing ``n`` tasks and their dependency edges (params: project, ids...)."""
    return (_TASKS["delete_tasks"].replace("{ids}", marks(n)),
            _TASKS["delete_deps"].replace("{ids}", marks(n)))


# -- schedules ------------------------------------------------------------------------------------

_SCHEDULES = statements("schedules.sql")
INSERT_SCHEDULE = _SCHEDULES["insert_schedule"]
GET_SCHEDULE = _SCHEDULES["get_schedule"]
LIST_SCHEDULES = _SCHEDULES["list_schedules"]
LIST_SCHEDULES_BY_STATUS = _SCHEDULES["list_schedules_by_status"]
UPDATE_SCHEDULE = _SCHEDULES["update_schedule"]
DELETE_SCHEDULE = _SCHEDULES["delete_schedule"]
DUE_SCHEDULES = _SCHEDULES["due_schedules"]


def schedule_row(project: str, schedule: Schedule) -> tuple[Any, ...]:
    """Parameters of :data:`INSERT_SCHEDULE`."""
    return (project, schedule.id, schedule.status.value, to_epoch(schedule.next_run_at),
            schedule.version, msgspec.msgpack.encode(schedule))


def update_schedule_params(project: str, schedule: Schedule,
                           expect_version: int) -> tuple[Any, ...]:
    return (schedule.status.value, to_epoch(schedule.next_run_at), schedule.version,
            msgspec.msgpack.encode(schedule), project, schedule.id, expect_version)


# -- the worker registry --------------------------------------------------------------------------

_WORKERS = statements("workers.sql")
PUT_WORKER = _WORKERS["put_worker"]
LIST_WORKERS = _WORKERS["list_workers"]
DELETE_WORKER = _WORKERS["delete_worker"]


def worker_row(project: str, worker: WorkerInfo) -> tuple[Any, ...]:
    """Parameters of :data:`PUT_WORKER`."""
    return (project, worker.id, worker.last_heartbeat.timestamp(),
            msgspec.msgpack.encode(worker))


# -- results --------------------------------------------------------------------------------------

_RESULTS = statements("results.sql")
PUT_RESULT = _RESULTS["put_result"]
GET_RESULT = _RESULTS["get_result"]
SCHEDULE_RESULTS = _RESULTS["schedule_results"]
LATEST_SCHEDULE_RESULT = _RESULTS["latest_schedule_result"]
DELETE_RESULT = _RESULTS["delete_result"]
PURGE_RESULTS = _RESULTS["purge_results"]


def result_row(project: str, task_id: str, blob: bytes, expires_at: datetime | None,
               schedule_id: str | None, finished_at: datetime) -> tuple[Any, ...]:
    """Parameters of :data:`PUT_RESULT`."""
    return (project, task_id, schedule_id, finished_at.timestamp(), to_epoch(expires_at), blob)


# -- events ---------------------------------------------------------------------------------------

_EVENTS = statements("events.sql")
INSERT_EVENT = _EVENTS["insert_event"]
PURGE_EVENTS = _EVENTS["purge_events"]
_event_json = msgspec.json.Encoder()
_event_decoder = msgspec.json.Decoder(TaskEvent)


def event_row(project: str, event: TaskEvent) -> tuple[Any, ...]:
    """Parameters of :data:`INSERT_EVENT`; the body is JSON, queryable by any tool."""
    return (project, event.id, str(event.type), event.timestamp.timestamp(), event.task_id,
            event.schedule_id, _event_json.encode(event).decode())


def decode_event(body: str | bytes) -> TaskEvent:
    return _event_decoder.decode(body)


def select_events(project: str, *, task_id: str | None = None, schedule_id: str | None = None,
                  type: str | None = None, since: datetime | None = None,
                  until: datetime | None = None, limit: int = 1000) -> tuple[str, list[Any]]:
    """The event query for these filters, in time order (ties by id)."""
    where: list[str] = ["project = ?"]
    params: list[Any] = [project]
    for column, value in (("task_id", task_id), ("schedule_id", schedule_id), ("type", type)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if since is not None:
        where.append("ts >= ?")
        params.append(since.timestamp())
    if until is not None:
        where.append("ts <= ?")
        params.append(until.timestamp())
    return _EVENTS["select_events"].replace("{where}", " AND ".join(where)), [*params, limit]
