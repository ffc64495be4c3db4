"""omniq-sqlite: the embedded default. Task queue, result and event stores in one SQLite file.

Several worker processes on one machine may share the file (WAL mode, ``BEGIN IMMEDIATE``
claims, leases); ``:memory:`` keeps everything in this process. The plugin owns its schema:
tables, migrations and statements are in ``sql/`` (see ``_sql.py`` and ``queue.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from omniq.plugins import lazy_exports

if TYPE_CHECKING:
    from .backend import AsyncSQLiteBackend, SQLiteBackend, SQLiteBackendConfig
    from .events import AsyncSQLiteEventStore, SQLiteEventStore, SQLiteEventStoreConfig
    from .queue import AsyncSQLiteTaskQueue, SQLiteTaskQueue, SQLiteTaskQueueConfig
    from .results import AsyncSQLiteResultStore, SQLiteResultStore, SQLiteResultStoreConfig

__all__ = [
    "AsyncSQLiteBackend",
    "AsyncSQLiteEventStore",
    "AsyncSQLiteResultStore",
    "AsyncSQLiteTaskQueue",
    "SQLiteBackend",
    "SQLiteBackendConfig",
    "SQLiteEventStore",
    "SQLiteEventStoreConfig",
    "SQLiteResultStore",
    "SQLiteResultStoreConfig",
    "SQLiteTaskQueue",
    "SQLiteTaskQueueConfig",
]

# The registry imports this package to reach its entry point module: the names import on
# first use, so a program on another backend never loads this one.
__getattr__ = lazy_exports(__name__, {
    ".backend": ["AsyncSQLiteBackend", "SQLiteBackend", "SQLiteBackendConfig"],
    ".events": ["AsyncSQLiteEventStore", "SQLiteEventStore", "SQLiteEventStoreConfig"],
    ".queue": ["AsyncSQLiteTaskQueue", "SQLiteTaskQueue", "SQLiteTaskQueueConfig"],
    ".results": ["AsyncSQLiteResultStore", "SQLiteResultStore", "SQLiteResultStoreConfig"],
})
