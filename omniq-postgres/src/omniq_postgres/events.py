"""``AsyncPostgresEventStore``: task lifecycle events in PostgreSQL, stored as JSON (never
pickled) beside indexed columns (``sql/events.sql``), so any SQL client can query them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec
from omniq.models import EventType, TaskEvent
from omniq.storage import AsyncEventStore
from omniq.sync import EventStore

from ._base import PostgresComponent
from ._config import PostgresEventStoreConfig

_json = msgspec.json.Encoder()
_decode = msgspec.json.Decoder(TaskEvent).decode


class AsyncPostgresEventStore(PostgresComponent, AsyncEventStore):
    """Events in PostgreSQL, in the schema ``omniq_<project_name>``, with the connection
    arguments of :class:`~omniq_postgres.AsyncPostgresTaskQueue`."""

    config_class = PostgresEventStoreConfig
    component = "events"
    statement_files = ("events.sql",)

    async def append(self, events: Sequence[TaskEvent]) -> None:
        if not events:
            return
        rows = [(self.project_name, e.id, str(e.type), e.timestamp.timestamp(), e.task_id,
                 e.schedule_id, _json.encode(e).decode()) for e in events]
        # executemany: one round trip, one transaction.
        await (await self._db()).executemany(self.sql["insert_event"], rows)

    async def query(self, *, task_id: str | None = None, schedule_id: str | None = None,
                    type: EventType | str | None = None, since: datetime | None = None,
                    until: datetime | None = None, limit: int = 1000) -> list[TaskEvent]:
        where = ["project = $1"]
        params: list[str | float] = [self.project_name]
        for condition, value in (("task_id =", task_id), ("schedule_id =", schedule_id),
                                 ("type =", None if type is None else EventType(type).value),
                                 ("ts >=", None if since is None else since.timestamp()),
                                 ("ts <=", None if until is None else until.timestamp())):
            if value is not None:
                params.append(value)
                where.append(f"{condition} ${len(params)}")
        sql = (self.sql["select_events"].replace("{where}", " AND ".join(where))
               .replace("{limit}", f"${len(params) + 1}"))
        rows = await (await self._db()).fetch(sql, *params, limit)
        return [_decode(r[0]) for r in rows]

    async def purge(self, before: datetime) -> int:
        status = await (await self._db()).execute(self.sql["purge_events"],
                                                  self.project_name, before.timestamp())
        return int(status.rsplit(" ", 1)[1])


class PostgresEventStore(EventStore, twin_of=AsyncPostgresEventStore):
    """Blocking twin of :class:`AsyncPostgresEventStore`."""


__all__ = ["AsyncPostgresEventStore", "PostgresEventStore", "PostgresEventStoreConfig"]
