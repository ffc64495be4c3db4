"""``AsyncPostgresEventStorage``: task lifecycle events in PostgreSQL, stored as JSON (never
pickled) in the table and with the statements both engines share (:mod:`omniq._sql`), so any
SQL client can query them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from omniq import _sql as shared
from omniq.models import EventType, TaskEvent
from omniq.storage import AsyncEventStorage
from omniq.sync import EventStore

from ._base import PostgresComponent
from ._config import PostgresEventStorageConfig


class AsyncPostgresEventStorage(PostgresComponent, AsyncEventStorage):
    """Events in PostgreSQL, in the schema ``omniq_<project_name>``.

    Takes the connection arguments of :class:`~omniq_postgres.AsyncPostgresTaskQueue`
    (``url``/``dsn``, ``host``, ``port``, ``username``, ``password``, ``database``, ``schema``,
    ``pool``, ``min_size``, ``max_size``, ``connect_timeout``, ``auto_migrate``,
    ``server_settings``).
    """

    config_class = PostgresEventStorageConfig
    component = "events"

    def __init__(self, *, project_name: str | None = None, url: str | None = None,
                 dsn: str | None = None, host: str | None = None, port: int | None = None,
                 username: str | None = None, password: str | None = None,
                 database: str | None = None, schema: str | None = None, pool: Any = None,
                 min_size: int | None = None, max_size: int | None = None,
                 connect_timeout: float | None = None, auto_migrate: bool = True,
                 server_settings: Mapping[str, str] | None = None,
                 secret_key: str | None = None) -> None:
        super().__init__(project_name=project_name, secret_key=secret_key)
        self._init_connection(url=url, dsn=dsn, host=host, port=port, username=username,
                              password=password, database=database, schema=schema, pool=pool,
                              min_size=min_size, max_size=max_size,
                              connect_timeout=connect_timeout, auto_migrate=auto_migrate,
                              server_settings=server_settings)

    async def append(self, events: Sequence[TaskEvent]) -> None:
        if not events:
            return
        rows = [shared.event_row(self.project_name, e) for e in events]
        # executemany: one round trip, one transaction.
        await (await self._db()).executemany(self._shared(shared.INSERT_EVENT), rows)

    async def query(self, *, task_id: str | None = None, schedule_id: str | None = None,
                    type: EventType | str | None = None, since: datetime | None = None,
                    until: datetime | None = None, limit: int = 1000) -> list[TaskEvent]:
        sql, params = shared.select_events(
            self.project_name, task_id=task_id, schedule_id=schedule_id,
            type=None if type is None else EventType(type).value, since=since, until=until,
            limit=limit)
        rows = await (await self._db()).fetch(self._shared(sql), *params)
        return [shared.decode_event(r[0]) for r in rows]

    async def purge(self, before: datetime) -> int:
        status = await (await self._db()).execute(self._shared(shared.PURGE_EVENTS),
                                                  self.project_name, before.timestamp())
        return int(status.rsplit(" ", 1)[1])


class PostgresEventStorage(EventStore, twin_of=AsyncPostgresEventStorage):
    """Blocking twin of :class:`AsyncPostgresEventStorage`."""


PostgreSQLEventStorage = PostgresEventStorage

__all__ = ["AsyncPostgresEventStorage", "PostgreSQLEventStorage", "PostgresEventStorage",
           "PostgresEventStorageConfig"]
