"""omniq-postgres: OmniQ's task queue, result store and event store on PostgreSQL (asyncpg).

Importing this package imports asyncpg; OmniQ itself finds these classes through the
``postgres`` plugin (``OmniQ(backend_type="postgres")``, ``postgresql://`` URLs,
``from omniq.queue import PostgresTaskQueue``) without importing it up front.
"""

from __future__ import annotations

from ._config import (
    PostgresBackendConfig,
    PostgresConnectionConfig,
    PostgresEventStorageConfig,
    PostgresResultStorageConfig,
    PostgresTaskQueueConfig,
)
from ._engine import SESSION as SERVER_SETTINGS
from .backend import AsyncPostgresBackend, PostgresBackend, PostgreSQLBackend
from .events import AsyncPostgresEventStorage, PostgresEventStorage, PostgreSQLEventStorage
from .queue import (
    AsyncPostgresQueue,
    AsyncPostgresTaskQueue,
    PostgreSQLTaskQueue,
    PostgresQueue,
    PostgresTaskQueue,
)
from .results import (
    AsyncPostgresResultStorage,
    PostgreSQLResultStorage,
    PostgresResultStorage,
    PostgresResultStore,
)

__all__ = [
    "AsyncPostgresBackend",
    "AsyncPostgresEventStorage",
    "AsyncPostgresQueue",
    "AsyncPostgresResultStorage",
    "AsyncPostgresTaskQueue",
    "PostgreSQLBackend",
    "PostgreSQLEventStorage",
    "PostgreSQLResultStorage",
    "PostgreSQLTaskQueue",
    "PostgresBackend",
    "PostgresBackendConfig",
    "PostgresConnectionConfig",
    "PostgresEventStorage",
    "PostgresEventStorageConfig",
    "PostgresQueue",
    "PostgresResultStorage",
    "PostgresResultStorageConfig",
    "PostgresResultStore",
    "PostgresTaskQueue",
    "PostgresTaskQueueConfig",
    "SERVER_SETTINGS",
]
