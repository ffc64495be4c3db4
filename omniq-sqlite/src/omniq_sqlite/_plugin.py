"""Entry point of omniq-sqlite: registers the ``sqlite`` types. Imports nothing but omniq."""

from __future__ import annotations

from omniq.plugins import Register, hookimpl

_SCHEMES = ["sqlite"]


@hookimpl
def omniq_register_task_queues(register: Register) -> None:
    register("sqlite", "omniq_sqlite.queue:AsyncSQLiteTaskQueue", aliases=["sqlite3"],
             schemes=_SCHEMES,
             exports=["SQLiteTaskQueue",
                      "SQLiteTaskQueueConfig"])


@hookimpl
def omniq_register_result_stores(register: Register) -> None:
    register("sqlite", "omniq_sqlite.results:AsyncSQLiteResultStore", aliases=["sqlite3"],
             schemes=_SCHEMES,
             exports=["SQLiteResultStore", "AsyncSQLiteResultStore", "SQLiteResultStoreConfig"])


@hookimpl
def omniq_register_event_stores(register: Register) -> None:
    register("sqlite", "omniq_sqlite.events:AsyncSQLiteEventStore", aliases=["sqlite3"],
             schemes=_SCHEMES,
             exports=["SQLiteEventStore", "SQLiteEventStoreConfig"])


@hookimpl
def omniq_register_backends(register: Register) -> None:
    register("sqlite", "omniq_sqlite.backend:AsyncSQLiteBackend", aliases=["sqlite3"],
             schemes=_SCHEMES, exports=["SQLiteBackend", "SQLiteBackendConfig"])
