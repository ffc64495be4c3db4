"""``AsyncSQLiteEventStore``: task events as JSON rows (never pickled, readable by any tool)
beside indexed columns for the queries by task, schedule, type and time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec
from omniq.models import EventType, TaskEvent
from omniq.storage import AsyncEventStore
from omniq.sync import EventStore

from ._config import _SQLiteConnectionConfig
from ._connected import SQLiteConnected
from ._sql import SQL, where

_json = msgspec.json.Encoder()
_decode = msgspec.json.Decoder(TaskEvent).decode


class SQLiteEventStoreConfig(_SQLiteConnectionConfig, kw_only=True):
    """Settings of :class:`SQLiteEventStore`."""


class AsyncSQLiteEventStore(SQLiteConnected, AsyncEventStore):
    """Task lifecycle events in an SQLite database (by default the project's own file);
    settings as :class:`~omniq_sqlite._connected.SQLiteConnected` says."""

    config_class = SQLiteEventStoreConfig
    schema = "events"

    async def append(self, events: Sequence[TaskEvent]) -> None:
        if events:  # the body is JSON, queryable by any tool
            db = await self._database()
            await db.executemany(SQL["insert_event"], [
                (self.project_name, e.id, str(e.type), e.timestamp.timestamp(), e.task_id,
                 e.schedule_id, _json.encode(e).decode()) for e in events])

    async def query(self, *, task_id: str | None = None, schedule_id: str | None = None,
                    type: EventType | str | None = None, since: datetime | None = None,
                    until: datetime | None = None, limit: int = 1000) -> list[TaskEvent]:
        sql, params = where(
            SQL["select_events"], self.project_name,
            ("task_id = ?", task_id), ("schedule_id = ?", schedule_id),
            ("type = ?", None if type is None else EventType(type).value),
            ("ts >= ?", None if since is None else since.timestamp()),
            ("ts <= ?", None if until is None else until.timestamp()))
        rows = await self._fetchall(sql, [*params, limit])
        return [_decode(r[0]) for r in rows]

    async def purge(self, before: datetime) -> int:
        return await self._execute(SQL["purge_events"], (self.project_name, before.timestamp()),
                                   heavy=True)


class SQLiteEventStore(EventStore, twin_of=AsyncSQLiteEventStore):
    """Blocking twin of :class:`AsyncSQLiteEventStore`."""


__all__ = ["AsyncSQLiteEventStore", "SQLiteEventStore", "SQLiteEventStoreConfig"]
