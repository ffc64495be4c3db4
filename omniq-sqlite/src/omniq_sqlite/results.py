"""``AsyncSQLiteResultStore``: signed result blobs in an SQLite table. An expired row is
invisible to reads until ``purge`` (which workers call now and then) deletes it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime

from omniq.contract import ResultRecord
from omniq.storage import AsyncResultStore
from omniq.sync import ResultStore

from ._config import _SQLiteConnectionConfig
from ._connected import SQLiteConnected
from ._sql import SQL, result_row


class SQLiteResultStoreConfig(_SQLiteConnectionConfig, kw_only=True):
    """Settings of :class:`SQLiteResultStore`."""


class AsyncSQLiteResultStore(SQLiteConnected, AsyncResultStore):
    """Task results in an SQLite database (by default the project's own file); settings as
    :class:`~omniq_sqlite._connected.SQLiteConnected` says."""

    config_class = SQLiteResultStoreConfig
    schema = "results"

    async def put_blob(self, task_id: str, blob: bytes, *, expires_at: datetime | None,
                       schedule_id: str | None, finished_at: datetime) -> None:
        await self.put_blobs([ResultRecord(task_id, blob, expires_at, schedule_id, finished_at)])

    async def put_blobs(self, records: Sequence[ResultRecord]) -> None:
        if not records:
            return
        db = await self._database()
        await db.executemany(SQL["put_result"], [result_row(self.project_name, *r)
                                                 for r in records])
        db.notify((self.project_name, "result", r.task_id) for r in records)

    async def get_blob(self, task_id: str) -> bytes | None:
        rows = await self._fetchall(SQL["get_result"], (self.project_name, task_id, time.time()))
        return bytes(rows[0][0]) if rows else None

    async def wait_blob(self, task_id: str, timeout: float, poll_interval: float) -> bytes | None:
        """Wakes at once when a process using this file stores the result; ``poll_interval``
        bounds the fallback poll for writers that cannot notify."""
        db = await self._database()
        return await db.wait([(self.project_name, "result", task_id)], timeout,
                             lambda: self.get_blob(task_id), max_poll=poll_interval)

    async def schedule_blobs(self, schedule_id: str, *, latest_only: bool) -> list[bytes]:
        sql = SQL["latest_schedule_result" if latest_only else "schedule_results"]
        rows = await self._fetchall(sql, (self.project_name, schedule_id, time.time()))
        return [bytes(r[0]) for r in rows]

    async def delete_blob(self, task_id: str) -> bool:
        return await self._execute(SQL["delete_result"], (self.project_name, task_id)) > 0

    async def purge_expired(self, now: datetime) -> int:
        # Possibly many rows: from the connection's thread, so the loop is not held up.
        return await self._execute(SQL["purge_results"], (self.project_name, now.timestamp()),
                                   heavy=True)


class SQLiteResultStore(ResultStore, twin_of=AsyncSQLiteResultStore):
    """Blocking twin of :class:`AsyncSQLiteResultStore`."""


__all__ = ["AsyncSQLiteResultStore", "SQLiteResultStore", "SQLiteResultStoreConfig"]
