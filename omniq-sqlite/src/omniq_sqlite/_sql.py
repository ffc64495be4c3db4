"""This plugin's SQL: the named statements of ``sql/*.sql`` (``-- name: x`` blocks, each file's
header saying what they touch), the parameters they take, and the schema's versions.

A component ("tasks", "results", "events") is at the version of its newest
``sql/<component>_v<N>.sql`` file and ``omniq_schema_version`` records each one's version in a
database. Opening a component runs the files it lacks, with the new version row, in one
``BEGIN IMMEDIATE`` transaction: an upgrade that fails leaves the old schema as it was, and a
database made by a newer omniq-sqlite is refused before anything is written. A new release
adds a file; a shipped one is never edited.
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
from omniq.exceptions import BackendError
from omniq.models import Task

_NAME_LINE = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
_encode = msgspec.msgpack.encode


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
    current = ""  # the statement being read
    for line in read_sql(filename).splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            found.append(current.strip())
            current = ""
    return found


def marks(n: int) -> str:
    """``?, ?, ?`` for an IN list of ``n`` values."""
    return ", ".join("?" * n)


#: Every named statement of our files (the names are unique across them).
SQL = {name: sql for file in ("tasks.sql", "schedules.sql", "workers.sql", "results.sql",
                               "events.sql", "schema_version.sql")
       for name, sql in statements(file).items()}


# -- schema versions ------------------------------------------------------------------------------

def _steps(component: str) -> dict[int, list[str]]:
    steps: dict[int, list[str]] = {}
    while True:
        try:
            steps[len(steps) + 1] = script(f"{component}_v{len(steps) + 1}.sql")
        except FileNotFoundError:
            return steps


#: component -> {version: statements that bring the schema from version-1 to version}.
MIGRATIONS: dict[str, dict[int, list[str]]] = {c: _steps(c) for c in ("tasks", "results", "events")}


def stored_versions(conn: sqlite3.Connection) -> dict[str, int]:
    """The version of each component this database records (none before the first)."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' "
                    "AND name='omniq_schema_version'").fetchone() is None:
        return {}
    return {component: int(v) for component, v in conn.execute(SQL["all_versions"])}


def migration_steps(component: str, stored: int | None,
                    where: str) -> list[tuple[int, list[str]]]:
    """The steps that bring ``component`` from ``stored`` (None: no schema yet) to this
    release's version; BackendError (before anything is written) when the database was made
    by a newer omniq-sqlite, whose schema an older release cannot know the meaning of."""
    current, target = stored or 0, max(MIGRATIONS[component])
    if current > target:
        raise BackendError(f"the {component} schema in {where} is version {current}, newer "
                           f"than this omniq-sqlite understands (version {target}); upgrade "
                           "omniq-sqlite to open it. Nothing was written.")
    return sorted((v, step) for v, step in MIGRATIONS[component].items() if v > current)


# -- parameters ---------------------------------------------------------------------------------

def where(sql: str, project: str, *conditions: tuple[str, Any]) -> tuple[str, list[Any]]:
    """``sql`` with its ``{where}`` slot filled (``project = ?`` and each ``("column op ?",
    value)`` given a value), and the parameters that takes."""
    given = [(condition, value) for condition, value in conditions if value is not None]
    clause = " AND ".join(["project = ?", *(c for c, _ in given)])
    return sql.replace("{where}", clause), [project, *(value for _, value in given)]


def with_ids(name: str, n: int) -> str:
    """Statement ``name`` with its ``{ids}`` slots made for ``n`` ids."""
    return SQL[name].replace("{ids}", marks(n))


def task_row(project: str, task: Task) -> tuple[Any, ...]:
    """Parameters of ``insert_task`` for ``task``: the columns copied from it, ``data``, then
    ``project`` and ``id``; ``update_task`` takes them in the same order."""
    return (task.queue_name, task.status.value, task.priority, task.run_at.timestamp(),
            to_epoch(task.lease_expires_at), task.attempts, _encode(task), project, task.id)


def update_task(project: str, task: Task, expect_status: Sequence[str],
                expect_attempts: int | None) -> tuple[str, tuple[Any, ...]]:
    """The fenced ``update_task`` statement and its parameters (``expect_status`` in a stable
    order)."""
    sql = (SQL["update_task"].replace("{statuses}", marks(len(expect_status)))
           .replace("{attempts}", "" if expect_attempts is None else " AND attempts = ?"))
    params = (*task_row(project, task), *expect_status)
    return sql, params if expect_attempts is None else (*params, expect_attempts)


def result_row(project: str, task_id: str, blob: bytes, expires_at: datetime | None,
               schedule_id: str | None, finished_at: datetime) -> tuple[Any, ...]:
    """Parameters of ``put_result``."""
    return (project, task_id, schedule_id, finished_at.timestamp(), to_epoch(expires_at), blob)
