"""``AsyncSQLiteBackend``: the queue, result store and event store of one SQLite database."""

from __future__ import annotations

import os
from typing import Any

from omniq.backend import AsyncBackend
from omniq.sync import Backend

from ._config import _SQLiteConnectionConfig
from .events import AsyncSQLiteEventStore
from .queue import AsyncSQLiteTaskQueue
from .results import AsyncSQLiteResultStore


class SQLiteBackendConfig(_SQLiteConnectionConfig, kw_only=True):
    """Settings of :class:`SQLiteBackend`."""


class AsyncSQLiteBackend(AsyncBackend):
    """Tasks, results and events of a project in one SQLite file (separate tables), with the
    settings of :class:`~omniq_sqlite._connected.SQLiteConnected`:
    ``SQLiteBackend(project_name="p", base_dir="data")`` keeps them in ``data/p.db``."""

    config_class = SQLiteBackendConfig
    task_queue_class = AsyncSQLiteTaskQueue
    result_store_class = AsyncSQLiteResultStore
    event_store_class = AsyncSQLiteEventStore

    def __init__(self, *, project_name: str | None = None, secret_key: str | None = None,
                 url: str | None = None, database_path: str | os.PathLike[str] | None = None,
                 base_dir: str | os.PathLike[str] | None = None,
                 busy_timeout: float | None = None) -> None:
        given: dict[str, Any] = {"url": url, "database_path": database_path,
                                 "base_dir": base_dir, "busy_timeout": busy_timeout}
        super().__init__(project_name=project_name, secret_key=secret_key,
                         **{k: v for k, v in given.items() if v is not None})


class SQLiteBackend(Backend, twin_of=AsyncSQLiteBackend):
    """Blocking twin of :class:`AsyncSQLiteBackend`."""


__all__ = ["AsyncSQLiteBackend", "SQLiteBackend", "SQLiteBackendConfig"]
