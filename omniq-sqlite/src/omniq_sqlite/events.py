"""``AsyncSQLiteEventStore``: task events as JSON rows in an SQLite table.

Events are plain data (never pickled): the ``body`` column holds the event as JSON, next to
indexed columns for the queries (by task, schedule, type and time), so ``sqlite3`` or any
other tool can read them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from omniq.models import EventType, TaskEvent
from omniq.storage import AsyncEventStore
from omniq.sync import EventStore

from . import _sql
from ._config import _SQLiteConnectionConfig
from ._connected import SQLiteConnected


class SQLiteEventStoreConfig(_SQLiteConnectionConfig, kw_only=True):
    """Settings of :class:`SQLiteEventStore`."""


class AsyncSQLiteEventStore(SQLiteConnected, AsyncEventStore):
    """Task lifecycle events in an SQLite database (by default the project's own file).

    Args:
        project_name: Namespace of this project's rows.
        url: ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or ``sqlite:///:memory:``.
        database_path: Path of the database file, or ``":memory:"``.
        base_dir: Directory of ``<project_name>.db`` when no path is given.
        busy_timeout: Seconds to wait for another process's write lock.
        secret_key: Signing key (unused by events; accepted like every component).
    """

    config_class = SQLiteEventStoreConfig
    schema = "events"

    async def append(self, events: Sequence[TaskEvent]) -> None:
        if not events:
            return
        db = await self._database()
        rows = [_sql.event_row(self.project_name, e) for e in events]
        await db.write(_insert, rows, heavy=len(rows) > 200)

    async def query(self, *, task_id: str | None = None, schedule_id: str | None = None,
                    type: EventType | str | None = None, since: datetime | None = None,
                    until: datetime | None = None, limit: int = 1000) -> list[TaskEvent]:
        db = await self._database()
        sql, params = _sql.select_events(
            self.project_name, task_id=task_id, schedule_id=schedule_id,
            type=None if type is None else EventType(type).value, since=since, until=until,
            limit=limit)
        return [_sql.decode_event(r[0]) for r in await db.fetchall(sql, params)]

    async def purge(self, before: datetime) -> int:
        db = await self._database()
        return await db.write(_changed, _sql.PURGE_EVENTS,
                              (self.project_name, before.timestamp()), heavy=True)


def _insert(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    conn.executemany(_sql.INSERT_EVENT, rows)


def _changed(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> int:
    return conn.execute(sql, params).rowcount


class SQLiteEventStore(EventStore, twin_of=AsyncSQLiteEventStore):
    """Blocking twin of :class:`AsyncSQLiteEventStore`."""



__all__ = ["AsyncSQLiteEventStore", "SQLiteEventStore", "SQLiteEventStoreConfig"]
