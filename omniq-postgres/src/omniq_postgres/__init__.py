"""omniq-postgres: OmniQ's task queue, result store and event store on PostgreSQL (asyncpg).

Importing this package imports asyncpg; OmniQ itself finds these classes through the
``postgres`` plugin (``OmniQ(backend_type="postgres")``, ``postgresql://`` URLs,
``from omniq.queue import PostgresTaskQueue``) without importing it up front.

This plugin owns its schema: the tables, migrations (``sql/<component>_v<N>.sql``) and
statements (``sql/*.sql``) live in this package, and ``omniq_schema_version`` in each project's
schema records the version of each component. A task is stored as a msgpack blob (``data``)
plus columns, and the lease state is authoritative in the columns: ``status``, ``attempts``,
``worker_id``, ``started_at`` and ``lease_expires_at`` win over their copies in the blob
whenever a task is read, because a claim and a lease extension write only them (one
``UPDATE``, no re-encoding). Every other field comes from the blob; ``queue``, ``priority``,
``run_at`` and ``finished_at`` are copies for the queries, always written with it. Schedules
and results are blobs with query columns, the blob authoritative.
"""

from __future__ import annotations

from ._config import (
    PostgresBackendConfig,
    PostgresConnectionConfig,
    PostgresEventStoreConfig,
    PostgresResultStoreConfig,
    PostgresTaskQueueConfig,
)
from ._engine import SESSION as SERVER_SETTINGS
from .backend import AsyncPostgresBackend, PostgresBackend
from .events import AsyncPostgresEventStore, PostgresEventStore
from .queue import (
    AsyncPostgresTaskQueue,
    PostgresTaskQueue,
)
from .results import (
    AsyncPostgresResultStore,
    PostgresResultStore,
)

__all__ = [
    "AsyncPostgresBackend",
    "AsyncPostgresEventStore",
    "AsyncPostgresResultStore",
    "AsyncPostgresTaskQueue",
    "PostgresBackend",
    "PostgresBackendConfig",
    "PostgresConnectionConfig",
    "PostgresEventStore",
    "PostgresEventStoreConfig",
    "PostgresResultStore",
    "PostgresResultStoreConfig",
    "PostgresTaskQueue",
    "PostgresTaskQueueConfig",
    "SERVER_SETTINGS",
]
