"""SQL shared by the SQLite and PostgreSQL backends: tables, indexes and statements, written once.

Both engines keep the same tables (one set per database, every row namespaced by ``project``):

* ``omniq_tasks``: the whole :class:`~omniq.models.Task` as msgpack in ``data``, plus the
  columns queries need. Times are float epoch seconds (``REAL`` / ``DOUBLE PRECISION``) so both
  engines compare them the same way; ``data`` stays the truth for everything else.
* ``omniq_task_deps``: parent -> child edges, so ``dependents`` is an index lookup.
* ``omniq_schedules``: the whole :class:`~omniq.models.Schedule` plus ``status``,
  ``next_run_at`` and the compare-and-set ``version``.
* ``omniq_results``: signed result blobs with expiry and schedule id.
* ``omniq_events``: events as JSON text (never pickled) plus indexed columns.
* ``omniq_schema_version``: one row per component (``tasks``, ``results``, ``events``), so a
  database holding only results is versioned too.

Statements use ``?`` placeholders; :func:`render` turns them into ``$1, $2, ...`` for
PostgreSQL and fills ``{blob}`` / ``{real}`` with each engine's type names. What genuinely
differs stays in each backend: how a claim locks (``BEGIN IMMEDIATE`` in SQLite,
``FOR UPDATE SKIP LOCKED`` in PostgreSQL, passed in as :attr:`Dialect.claim_lock`), how a
transaction starts, and how the existence of the version table is checked.

Row helpers (:func:`task_row`, ...) give parameters in the order the matching statement
expects, so the column order lives in this one file.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from .exceptions import BackendError
from .models import Schedule, Task, TaskEvent, TaskStatus

# -- dialects --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dialect:
    """What differs between the engines in the shared statements."""

    name: str
    blob: str  # type of binary columns
    real: str  # type of epoch-seconds columns
    numbered: bool  # placeholders $1, $2, ... instead of ?
    claim_lock: str = ""  # appended to the claim's inner SELECT


SQLITE = Dialect("sqlite", blob="BLOB", real="REAL", numbered=False)
POSTGRES = Dialect("postgres", blob="BYTEA", real="DOUBLE PRECISION", numbered=True,
                   claim_lock=" FOR UPDATE SKIP LOCKED")

_QMARK = re.compile(r"\?")


@functools.lru_cache(maxsize=512)
def render(sql: str, dialect: Dialect) -> str:
    """``sql`` for ``dialect``: type names filled in, ``?`` numbered for PostgreSQL.

    Shared statements contain no ``?`` inside string literals, so a plain scan is enough.
    """
    sql = sql.replace("{blob}", dialect.blob).replace("{real}", dialect.real)
    sql = sql.replace("{claim_lock}", dialect.claim_lock)
    if dialect.numbered:
        counter = iter(range(1, 10_000))
        sql = _QMARK.sub(lambda _m: f"${next(counter)}", sql)
    return sql


def marks(n: int) -> str:
    """``?, ?, ?`` for an IN list of ``n`` values."""
    return ", ".join("?" * n)


def epoch(moment: datetime | None) -> float | None:
    """Float epoch seconds of an aware datetime (None stays None)."""
    return None if moment is None else moment.timestamp()


def from_epoch(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


# -- schema and migrations ----------------------------------------------------------------------

#: The newest schema version of any component in this release (each component's own is
#: :func:`schema_version`).
SCHEMA_VERSION = 1

VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS omniq_schema_version (
    component TEXT PRIMARY KEY,
    version INTEGER NOT NULL
)"""
GET_VERSION = "SELECT version FROM omniq_schema_version WHERE component = ?"
SET_VERSION = """
INSERT INTO omniq_schema_version (component, version) VALUES (?, ?)
ON CONFLICT (component) DO UPDATE SET version = excluded.version"""

_TASK_TABLE_V1 = [
    """CREATE TABLE IF NOT EXISTS omniq_tasks (
        project TEXT NOT NULL,
        id TEXT NOT NULL,
        queue TEXT NOT NULL,
        status TEXT NOT NULL,
        priority INTEGER NOT NULL,
        run_at {real} NOT NULL,
        lease_expires_at {real},
        attempts INTEGER NOT NULL,
        data {blob} NOT NULL,
        PRIMARY KEY (project, id)
    )""",
    # The claim walks this index in claim order and stops after LIMIT rows: its cost does not
    # grow with the number of waiting tasks. Only runnable rows are in it, so finished tasks
    # cost nothing here.
    """CREATE INDEX IF NOT EXISTS omniq_tasks_runnable
        ON omniq_tasks (project, queue, priority DESC, run_at, id)
        WHERE status IN ('pending', 'retrying')""",
    """CREATE INDEX IF NOT EXISTS omniq_tasks_leases
        ON omniq_tasks (project, lease_expires_at) WHERE status = 'running'""",
    """CREATE INDEX IF NOT EXISTS omniq_tasks_queue_status
        ON omniq_tasks (project, queue, status, id)""",
    """CREATE INDEX IF NOT EXISTS omniq_tasks_status
        ON omniq_tasks (project, status, id)""",
]
# Dependency edges and schedules: shared by both engines as they are (PostgreSQL lays out its
# task tables its own way, so it uses this part of the tasks component without the above).
DEPS_SCHEDULES_V1 = [
    """CREATE TABLE IF NOT EXISTS omniq_task_deps (
        project TEXT NOT NULL,
        parent_id TEXT NOT NULL,
        child_id TEXT NOT NULL,
        PRIMARY KEY (project, parent_id, child_id)
    )""",
    """CREATE TABLE IF NOT EXISTS omniq_schedules (
        project TEXT NOT NULL,
        id TEXT NOT NULL,
        status TEXT NOT NULL,
        next_run_at {real},
        version INTEGER NOT NULL,
        data {blob} NOT NULL,
        PRIMARY KEY (project, id)
    )""",
    """CREATE INDEX IF NOT EXISTS omniq_schedules_due
        ON omniq_schedules (project, next_run_at) WHERE status = 'active'""",
]
_TASKS_V1 = _TASK_TABLE_V1 + DEPS_SCHEDULES_V1
_RESULTS_V1 = [
    """CREATE TABLE IF NOT EXISTS omniq_results (
        project TEXT NOT NULL,
        task_id TEXT NOT NULL,
        schedule_id TEXT,
        finished_at {real} NOT NULL,
        expires_at {real},
        data {blob} NOT NULL,
        PRIMARY KEY (project, task_id)
    )""",
    """CREATE INDEX IF NOT EXISTS omniq_results_schedule
        ON omniq_results (project, schedule_id, finished_at) WHERE schedule_id IS NOT NULL""",
    """CREATE INDEX IF NOT EXISTS omniq_results_expiry
        ON omniq_results (project, expires_at) WHERE expires_at IS NOT NULL""",
]
_EVENTS_V1 = [
    """CREATE TABLE IF NOT EXISTS omniq_events (
        project TEXT NOT NULL,
        id TEXT NOT NULL,
        type TEXT NOT NULL,
        ts {real} NOT NULL,
        task_id TEXT,
        schedule_id TEXT,
        body TEXT NOT NULL,
        PRIMARY KEY (project, id)
    )""",
    "CREATE INDEX IF NOT EXISTS omniq_events_ts ON omniq_events (project, ts, id)",
    """CREATE INDEX IF NOT EXISTS omniq_events_task
        ON omniq_events (project, task_id, ts) WHERE task_id IS NOT NULL""",
    """CREATE INDEX IF NOT EXISTS omniq_events_schedule
        ON omniq_events (project, schedule_id, ts) WHERE schedule_id IS NOT NULL""",
    "CREATE INDEX IF NOT EXISTS omniq_events_type ON omniq_events (project, type, ts)",
]

#: component -> {version: statements that bring the schema from version-1 to version}.
#: A new release appends a version to the component it changes; never edit a shipped step.
MIGRATIONS: dict[str, dict[int, list[str]]] = {
    "tasks": {1: _TASKS_V1},
    "results": {1: _RESULTS_V1},
    "events": {1: _EVENTS_V1},
}


def schema_version(component: str) -> int:
    """The version of ``component``'s schema this release writes."""
    return max(MIGRATIONS[component])


def migration_steps(component: str, stored: int | None, where: str,
                    target: int | None = None) -> list[tuple[int, list[str]]]:
    """The steps that bring ``component`` from ``stored`` (None: no schema yet) to ``target``
    (default: :func:`schema_version`).

    Raises :class:`BackendError` (before anything is written) when the database was made by a
    newer OmniQ: an older release cannot know what the newer schema means.
    """
    current = stored or 0
    target = schema_version(component) if target is None else target
    if current > target:
        raise BackendError(
            f"the {component} schema in {where} is version {current}, newer than this OmniQ "
            f"understands (version {target}); upgrade omniq to open it. Nothing was written."
        )
    steps = MIGRATIONS[component]
    return [(v, steps[v]) for v in range(current + 1, target + 1)]


# -- tasks ----------------------------------------------------------------------------------------

TASK_COLUMNS = "project, id, queue, status, priority, run_at, lease_expires_at, attempts, data"
INSERT_TASK = (f"INSERT INTO omniq_tasks ({TASK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
               "ON CONFLICT (project, id) DO NOTHING")
INSERT_DEP = ("INSERT INTO omniq_task_deps (project, parent_id, child_id) VALUES (?, ?, ?) "
              "ON CONFLICT (project, parent_id, child_id) DO NOTHING")
GET_TASK = "SELECT data FROM omniq_tasks WHERE project = ? AND id = ?"
# Parameters: task_row(...) values for the SET list, then project, id; the status list and
# the optional attempts condition are appended by update_task_sql().
_UPDATE_TASK = ("UPDATE omniq_tasks SET queue = ?, status = ?, priority = ?, run_at = ?, "
                "lease_expires_at = ?, attempts = ?, data = ? "
                "WHERE project = ? AND id = ? AND status IN ({statuses})")
GET_RUNNING = ("SELECT data FROM omniq_tasks WHERE project = ? AND id = ? "
               "AND status = 'running' AND attempts = ?")
EXPIRED_LEASES = ("SELECT data FROM omniq_tasks WHERE project = ? AND status = 'running' "
                  "AND lease_expires_at < ? ORDER BY lease_expires_at LIMIT ?")
DEPENDENTS = ("SELECT t.data FROM omniq_task_deps d JOIN omniq_tasks t "
              "ON t.project = d.project AND t.id = d.child_id "
              "WHERE d.project = ? AND d.parent_id = ? ORDER BY t.id")
# Literal statuses (not parameters) so the planner can use the partial runnable index.
RUNNABLE_WHERE = ("project = ? AND queue = ? AND status IN ('pending', 'retrying') "
                  "AND run_at <= ?")
#: Claim up to LIMIT runnable tasks of one queue. Parameters: worker_lease_expires_at, project,
#: project, queue, now, limit. The caller then rewrites ``data`` of the returned rows.
CLAIM = ("UPDATE omniq_tasks SET status = 'running', attempts = attempts + 1, "
         "lease_expires_at = ? WHERE project = ? AND id IN ("
         f"SELECT id FROM omniq_tasks WHERE {RUNNABLE_WHERE} "
         "ORDER BY priority DESC, run_at, id LIMIT ?{claim_lock}) RETURNING data")
SET_TASK_DATA = "UPDATE omniq_tasks SET data = ? WHERE project = ? AND id = ?"
#: Is anything runnable now in this queue? (the cheap probe of an idle worker)
HAS_WORK = (f"SELECT 1 FROM omniq_tasks WHERE {RUNNABLE_WHERE} "
            "ORDER BY priority DESC, run_at, id LIMIT 1")


def task_row(project: str, task: Task, data: bytes | None = None) -> tuple[Any, ...]:
    """Parameters of :data:`INSERT_TASK` for ``task``."""
    return (project, task.id, task.queue_name, task.status.value, task.priority,
            task.run_at.timestamp(), epoch(task.lease_expires_at), task.attempts,
            msgspec.msgpack.encode(task) if data is None else data)


def update_task_sql(n_statuses: int, fenced: bool) -> str:
    sql = _UPDATE_TASK.replace("{statuses}", marks(n_statuses))
    return sql + " AND attempts = ?" if fenced else sql


def update_task_params(project: str, task: Task, expect_status: Sequence[TaskStatus],
                       expect_attempts: int | None) -> tuple[Any, ...]:
    """Parameters of :func:`update_task_sql` (``expect_status`` in a stable order)."""
    params: tuple[Any, ...] = (
        task.queue_name, task.status.value, task.priority, task.run_at.timestamp(),
        epoch(task.lease_expires_at), task.attempts, msgspec.msgpack.encode(task), project,
        task.id, *(s.value if isinstance(s, TaskStatus) else str(s) for s in expect_status))
    return params if expect_attempts is None else (*params, expect_attempts)


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
        return f"SELECT COUNT(*) FROM omniq_tasks WHERE {' AND '.join(where)}", params
    return (f"SELECT data FROM omniq_tasks WHERE {' AND '.join(where)} "
            "ORDER BY id LIMIT ? OFFSET ?", [*params, limit, offset])


def delete_tasks_sql(n: int) -> tuple[str, str]:
    """Statements removing ``n`` tasks and their dependency edges (params: project, ids...)."""
    return (f"DELETE FROM omniq_tasks WHERE project = ? AND id IN ({marks(n)})",
            f"DELETE FROM omniq_task_deps WHERE project = ? AND (child_id IN ({marks(n)}) "
            f"OR parent_id IN ({marks(n)}))")


# -- schedules ------------------------------------------------------------------------------------

INSERT_SCHEDULE = ("INSERT INTO omniq_schedules (project, id, status, next_run_at, version, data) "
                   "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (project, id) DO NOTHING")
GET_SCHEDULE = "SELECT data FROM omniq_schedules WHERE project = ? AND id = ?"
LIST_SCHEDULES = "SELECT data FROM omniq_schedules WHERE project = ? ORDER BY id"
LIST_SCHEDULES_BY_STATUS = ("SELECT data FROM omniq_schedules WHERE project = ? AND status = ? "
                            "ORDER BY id")
#: Parameters: status, next_run_at, version, data, project, id, expect_version.
UPDATE_SCHEDULE = ("UPDATE omniq_schedules SET status = ?, next_run_at = ?, version = ?, data = ? "
                   "WHERE project = ? AND id = ? AND version = ?")
DELETE_SCHEDULE = "DELETE FROM omniq_schedules WHERE project = ? AND id = ?"
DUE_SCHEDULES = ("SELECT data FROM omniq_schedules WHERE project = ? AND status = 'active' "
                 "AND next_run_at <= ? ORDER BY next_run_at, id LIMIT ?")


def schedule_row(project: str, schedule: Schedule) -> tuple[Any, ...]:
    """Parameters of :data:`INSERT_SCHEDULE`."""
    return (project, schedule.id, schedule.status.value, epoch(schedule.next_run_at),
            schedule.version, msgspec.msgpack.encode(schedule))


def update_schedule_params(project: str, schedule: Schedule,
                           expect_version: int) -> tuple[Any, ...]:
    return (schedule.status.value, epoch(schedule.next_run_at), schedule.version,
            msgspec.msgpack.encode(schedule), project, schedule.id, expect_version)


# -- results --------------------------------------------------------------------------------------

#: Parameters: project, task_id, schedule_id, finished_at, expires_at, data.
PUT_RESULT = ("INSERT INTO omniq_results (project, task_id, schedule_id, finished_at, expires_at, "
              "data) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (project, task_id) DO UPDATE SET "
              "schedule_id = excluded.schedule_id, finished_at = excluded.finished_at, "
              "expires_at = excluded.expires_at, data = excluded.data")
#: Parameters: project, task_id, now.
GET_RESULT = ("SELECT data FROM omniq_results WHERE project = ? AND task_id = ? "
              "AND (expires_at IS NULL OR expires_at > ?)")
#: Parameters: project, schedule_id, now.
SCHEDULE_RESULTS = ("SELECT data FROM omniq_results WHERE project = ? AND schedule_id = ? "
                    "AND (expires_at IS NULL OR expires_at > ?) ORDER BY finished_at, task_id")
LATEST_SCHEDULE_RESULT = ("SELECT data FROM omniq_results WHERE project = ? AND schedule_id = ? "
                          "AND (expires_at IS NULL OR expires_at > ?) "
                          "ORDER BY finished_at DESC, task_id DESC LIMIT 1")
DELETE_RESULT = "DELETE FROM omniq_results WHERE project = ? AND task_id = ?"
PURGE_RESULTS = ("DELETE FROM omniq_results WHERE project = ? AND expires_at IS NOT NULL "
                 "AND expires_at <= ?")


def result_row(project: str, task_id: str, blob: bytes, expires_at: datetime | None,
               schedule_id: str | None, finished_at: datetime) -> tuple[Any, ...]:
    """Parameters of :data:`PUT_RESULT`."""
    return (project, task_id, schedule_id, finished_at.timestamp(), epoch(expires_at), blob)


# -- events ---------------------------------------------------------------------------------------

INSERT_EVENT = ("INSERT INTO omniq_events (project, id, type, ts, task_id, schedule_id, body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (project, id) DO NOTHING")
PURGE_EVENTS = "DELETE FROM omniq_events WHERE project = ? AND ts < ?"
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
    return (f"SELECT body FROM omniq_events WHERE {' AND '.join(where)} ORDER BY ts, id LIMIT ?",
            [*params, limit])


__all__ = [
    "POSTGRES",
    "SCHEMA_VERSION",
    "SQLITE",
    "Dialect",
    "epoch",
    "from_epoch",
    "marks",
    "migration_steps",
    "render",
    "schema_version",
]
