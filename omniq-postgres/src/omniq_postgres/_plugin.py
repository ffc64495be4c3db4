"""Entry point of omniq-postgres: registers the ``postgres`` type (alias ``postgresql``).

Imports nothing but :mod:`omniq.plugins`, so loading plugins never imports asyncpg.
"""

from __future__ import annotations

from omniq.plugins import Register, hookimpl


def _postgres(register: Register, target: str, *exports: str) -> None:
    register("postgres", f"omniq_postgres.{target}", aliases=["postgresql"],
             schemes=["postgres", "postgresql"], exports=exports)


@hookimpl
def omniq_register_task_queues(register: Register) -> None:
    _postgres(register, "queue:AsyncPostgresTaskQueue", "PostgresTaskQueue",
              "PostgresTaskQueueConfig")


@hookimpl
def omniq_register_result_stores(register: Register) -> None:
    _postgres(register, "results:AsyncPostgresResultStore", "PostgresResultStore",
              "PostgresResultStoreConfig")


@hookimpl
def omniq_register_event_stores(register: Register) -> None:
    _postgres(register, "events:AsyncPostgresEventStore", "PostgresEventStore",
              "PostgresEventStoreConfig")


@hookimpl
def omniq_register_backends(register: Register) -> None:
    _postgres(register, "backend:AsyncPostgresBackend", "PostgresBackend",
              "PostgresBackendConfig")
