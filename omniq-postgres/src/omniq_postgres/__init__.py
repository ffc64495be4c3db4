"""omniq-postgres: OmniQ's task queue, result store and event store on PostgreSQL (asyncpg).

Importing this package imports asyncpg; OmniQ itself finds these classes through the
``postgres`` plugin (``OmniQ(backend_type="postgres")``, ``postgresql://`` URLs,
``from omniq.queue import PostgresTaskQueue``) without importing it up front.

This plugin owns its schema: tables, migrations and statements are in ``sql/`` (see
``_engine.py``), and ``omniq_schema_version`` in each project's schema records the version of
each component. How a task's blob and columns share the truth: see ``queue.py``.
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
from .queue import AsyncPostgresTaskQueue, PostgresTaskQueue
from .results import AsyncPostgresResultStore, PostgresResultStore

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
