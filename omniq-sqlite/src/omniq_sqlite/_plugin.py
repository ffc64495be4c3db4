"""Entry point of omniq-sqlite: registers the ``sqlite`` types. Imports nothing but omniq."""

from __future__ import annotations

from omniq.plugins import Register, hookimpl


def _sqlite(register: Register, target: str, *exports: str) -> None:
    register("sqlite", f"omniq_sqlite.{target}", aliases=["sqlite3"], schemes=["sqlite"],
             exports=exports)


@hookimpl
def omniq_register_task_queues(register: Register) -> None:
    _sqlite(register, "queue:AsyncSQLiteTaskQueue", "SQLiteTaskQueue", "SQLiteTaskQueueConfig")


@hookimpl
def omniq_register_result_stores(register: Register) -> None:
    _sqlite(register, "results:AsyncSQLiteResultStore", "SQLiteResultStore",
            "AsyncSQLiteResultStore", "SQLiteResultStoreConfig")


@hookimpl
def omniq_register_event_stores(register: Register) -> None:
    _sqlite(register, "events:AsyncSQLiteEventStore", "SQLiteEventStore",
            "SQLiteEventStoreConfig")


@hookimpl
def omniq_register_backends(register: Register) -> None:
    _sqlite(register, "backend:AsyncSQLiteBackend", "SQLiteBackend", "SQLiteBackendConfig")
