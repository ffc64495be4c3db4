"""Entry point of omniq-postgres: registers the ``postgres`` type (alias ``postgresql``).

Imports nothing but :mod:`omniq.plugins`, so loading plugins never imports asyncpg.
"""

from __future__ import annotations

from omniq.plugins import Register, hookimpl

_ALIASES = ["postgresql"]
_SCHEMES = ["postgres", "postgresql"]


@hookimpl
def omniq_register_task_queues(register: Register) -> None:
    register("postgres", "omniq_postgres.queue:AsyncPostgresTaskQueue", aliases=_ALIASES,
             schemes=_SCHEMES,
             exports=["PostgresTaskQueue", "PostgresTaskQueueConfig"])


@hookimpl
def omniq_register_result_stores(register: Register) -> None:
    register("postgres", "omniq_postgres.results:AsyncPostgresResultStore", aliases=_ALIASES,
             schemes=_SCHEMES,
             exports=["PostgresResultStore", "PostgresResultStoreConfig"])


@hookimpl
def omniq_register_event_stores(register: Register) -> None:
    register("postgres", "omniq_postgres.events:AsyncPostgresEventStore", aliases=_ALIASES,
             schemes=_SCHEMES,
             exports=["PostgresEventStore",
                      "PostgresEventStoreConfig"])


@hookimpl
def omniq_register_backends(register: Register) -> None:
    register("postgres", "omniq_postgres.backend:AsyncPostgresBackend", aliases=_ALIASES,
             schemes=_SCHEMES,
             exports=["PostgresBackend", "PostgresBackendConfig"])
