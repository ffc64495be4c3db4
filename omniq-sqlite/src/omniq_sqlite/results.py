"""``AsyncSQLiteResultStore``: signed result blobs in an SQLite table.

Expiry is lazy (an expired row is invisible to reads) plus ``purge``, which workers call now
and then. Waiting for a result wakes at once when this process stores it, and looks again
whenever another process has committed to the file.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from omniq.storage import AsyncResultStore
from omniq.sync import ResultStore

from . import _sql
from ._config import _SQLiteConnectionConfig
from ._connected import SQLiteConnected


class SQLiteResultStoreConfig(_SQLiteConnectionConfig, kw_only=True):
    """Settings of :class:`SQLiteResultStore`."""


class AsyncSQLiteResultStore(SQLiteConnected, AsyncResultStore):
    """Task results in an SQLite database (by default the project's own file).

    Args:
        project_name: Namespace of this project's rows.
        url: ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or ``sqlite:///:memory:``.
        database_path: Path of the database file, or ``":memory:"``.
        base_dir: Directory of ``<project_name>.db`` when no path is given (default: the
            ``BASE_DIR`` setting).
        busy_timeout: Seconds to wait for another process's write lock.
        secret_key: Signing key.
    """

    config_class = SQLiteResultStoreConfig
    schema = "results"

    async def put_blob(self, task_id: str, blob: bytes, *, expires_at: datetime | None,
                       schedule_id: str | None, finished_at: datetime) -> None:
        await self.put_blobs([(task_id, blob, expires_at, schedule_id, finished_at)])

    async def put_blobs(self, items: Sequence[tuple[str, bytes, datetime | None, str | None,
                                                    datetime]]) -> None:
        if not items:
            return
        db = await self._database()
        rows = [_sql.result_row(self.project_name, *item) for item in items]
        await db.write(_put, rows, heavy=len(rows) > 200)
        db.notify((self.project_name, "result", item[0]) for item in items)

    async def get_blob(self, task_id: str) -> bytes | None:
        db = await self._database()
        rows = await db.fetchall(_sql.GET_RESULT, (self.project_name, task_id, time.time()))
        return bytes(rows[0][0]) if rows else None

    async def wait_blob(self, task_id: str, timeout: float, poll_interval: float) -> bytes | None:
        """Wakes at once when a process using this file stores the result; ``poll_interval``
        bounds the fallback poll for writers that cannot notify."""
        db = await self._database()
        return await db.wait([(self.project_name, "result", task_id)], timeout,
                             lambda: self.get_blob(task_id), max_poll=poll_interval)

    async def schedule_blobs(self, schedule_id: str, *, latest_only: bool) -> list[bytes]:
        db = await self._database()
        sql = _sql.LATEST_SCHEDULE_RESULT if latest_only else _sql.SCHEDULE_RESULTS
        rows = await db.fetchall(sql, (self.project_name, schedule_id, time.time()))
        return [bytes(r[0]) for r in rows]

    async def delete_blob(self, task_id: str) -> bool:
        db = await self._database()
        return await db.write(_changed, _sql.DELETE_RESULT, (self.project_name, task_id)) > 0

    async def purge_expired(self, now: datetime) -> int:
        db = await self._database()
        # Possibly many rows: from the connection's thread, so the loop is not held up.
        return await db.write(_changed, _sql.PURGE_RESULTS, (self.project_name, now.timestamp()),
                              heavy=True)


def _put(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    conn.executemany(_sql.PUT_RESULT, rows)


def _changed(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> int:
    return conn.execute(sql, params).rowcount




class SQLiteResultStore(ResultStore, twin_of=AsyncSQLiteResultStore):
    """Blocking twin of :class:`AsyncSQLiteResultStore`."""



__all__ = ["AsyncSQLiteResultStore", "SQLiteResultStore", "SQLiteResultStoreConfig"]
