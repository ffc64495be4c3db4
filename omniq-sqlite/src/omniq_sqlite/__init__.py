"""omniq-sqlite: the embedded default. Task queue, result and event stores in one SQLite file.

Several worker processes on one machine may share the file (WAL mode, ``BEGIN IMMEDIATE``
claims, leases); ``:memory:`` keeps everything in this process.
"""

from .backend import AsyncSQLiteBackend, SQLiteBackend, SQLiteBackendConfig
from .events import (
    AsyncSQLiteEventStorage,
    SQLiteEventStorage,
    SQLiteEventStorageConfig,
    SQLiteEventStore,
)
from .queue import (
    AsyncSQLiteQueue,
    AsyncSQLiteTaskQueue,
    SQLiteQueue,
    SQLiteTaskQueue,
    SQLiteTaskQueueConfig,
)
from .results import (
    AsyncSQLiteResultStorage,
    AsyncSQLiteResultStore,
    SQLiteResultStorage,
    SQLiteResultStorageConfig,
    SQLiteResultStore,
)

__all__ = [
    "AsyncSQLiteBackend",
    "AsyncSQLiteEventStorage",
    "AsyncSQLiteQueue",
    "AsyncSQLiteResultStorage",
    "AsyncSQLiteResultStore",
    "AsyncSQLiteTaskQueue",
    "SQLiteBackend",
    "SQLiteBackendConfig",
    "SQLiteEventStorage",
    "SQLiteEventStorageConfig",
    "SQLiteEventStore",
    "SQLiteQueue",
    "SQLiteResultStorage",
    "SQLiteResultStorageConfig",
    "SQLiteResultStore",
    "SQLiteTaskQueue",
    "SQLiteTaskQueueConfig",
]
