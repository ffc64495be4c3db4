"""``AsyncPostgresBackend``: the queue, result store and event store of one PostgreSQL server
from one set of connection settings (they share one pool and one LISTEN connection)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omniq.backend import AsyncBackend
from omniq.sync import Backend

from ._config import PostgresBackendConfig
from .events import AsyncPostgresEventStore
from .queue import AsyncPostgresTaskQueue
from .results import AsyncPostgresResultStore


class AsyncPostgresBackend(AsyncBackend):
    """PostgreSQL for tasks, results and events: takes the connection arguments of
    :class:`~omniq_postgres.AsyncPostgresTaskQueue` and hands them to each component."""

    config_class = PostgresBackendConfig
    task_queue_class = AsyncPostgresTaskQueue
    result_store_class = AsyncPostgresResultStore
    event_store_class = AsyncPostgresEventStore

    def __init__(self, *, project_name: str | None = None, url: str | None = None,
                 dsn: str | None = None, host: str | None = None, port: int | None = None,
                 username: str | None = None, password: str | None = None,
                 database: str | None = None, schema: str | None = None, pool: Any = None,
                 min_size: int | None = None, max_size: int | None = None,
                 connect_timeout: float | None = None, auto_migrate: bool = True,
                 server_settings: Mapping[str, str] | None = None,
                 secret_key: str | None = None) -> None:
        settings = {"url": url, "dsn": dsn, "host": host, "port": port, "username": username,
                    "password": password, "database": database, "schema": schema, "pool": pool,
                    "min_size": min_size, "max_size": max_size,
                    "connect_timeout": connect_timeout, "server_settings": server_settings}
        super().__init__(project_name=project_name, secret_key=secret_key,
                         auto_migrate=auto_migrate,
                         **{k: v for k, v in settings.items() if v is not None})
        # Fail now, not when the first component is built, on bad settings.
        AsyncPostgresTaskQueue(project_name=self.project_name, **self.settings)


class PostgresBackend(Backend, twin_of=AsyncPostgresBackend):
    """Blocking twin of :class:`AsyncPostgresBackend`."""


__all__ = ["AsyncPostgresBackend", "PostgresBackend", "PostgresBackendConfig"]
