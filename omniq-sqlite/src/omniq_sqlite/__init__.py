"""omniq-sqlite: the embedded default. Task queue, result and event stores in one SQLite file.

Several worker processes on one machine may share the file (WAL mode, ``BEGIN IMMEDIATE``
claims, leases); ``:memory:`` keeps everything in this process. The plugin owns its schema:
tables, migrations and statements are in ``sql/`` (see ``_sql.py`` and ``queue.py``).
"""

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
