"""omniq-sqlite: the embedded default. Task queue, result and event stores in one SQLite file.

Several worker processes on one machine may share the file (WAL mode, ``BEGIN IMMEDIATE``
claims, leases); ``:memory:`` keeps everything in this process.

This plugin owns its schema: the tables, migrations (``sql/<component>_v<N>.sql``) and
statements (``sql/*.sql``) live in this package, and ``omniq_schema_version`` records the
version of each component. A task or schedule is stored whole, msgpack-encoded in ``data``,
and that blob is authoritative: reads decode ``data`` only, and the columns beside it (queue,
status, priority, run_at, lease_expires_at, attempts; a schedule's status and next_run_at)
are copies for the queries, written with ``data`` in the same transaction.
"""

from .backend import AsyncSQLiteBackend, SQLiteBackend, SQLiteBackendConfig
from .events import (
    AsyncSQLiteEventStore,
    SQLiteEventStore,
    SQLiteEventStoreConfig,
)
from .queue import (
    AsyncSQLiteTaskQueue,
    SQLiteTaskQueue,
    SQLiteTaskQueueConfig,
)
from .results import (
    AsyncSQLiteResultStore,
    SQLiteResultStore,
    SQLiteResultStoreConfig,
)

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
