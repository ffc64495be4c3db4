"""omniq-postgres: OmniQ's task queue, result store and event store on PostgreSQL (asyncpg).

OmniQ finds these classes through the ``postgres`` plugin (``OmniQ(backend_type="postgres")``,
``postgresql://`` URLs, ``from omniq.queue import PostgresTaskQueue``); this package imports
each (and asyncpg) when it is first used.

This plugin owns its schema: tables, migrations and statements are in ``sql/`` (see
``_engine.py``), and ``omniq_schema_version`` in each project's schema records the version of
each component. How a task's blob and columns share the truth: see ``queue.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from omniq.plugins import lazy_exports

if TYPE_CHECKING:
    from ._config import (
        PostgresBackendConfig,
        PostgresConnectionConfig,
        PostgresEventStoreConfig,
        PostgresResultStoreConfig,
        PostgresTaskQueueConfig,
    )
    from ._engine import SERVER_SETTINGS
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

# The registry imports this package to reach its entry point module: the names import on
# first use, so a program on another backend never loads this one.
__getattr__ = lazy_exports(__name__, {
    "._config": [
        "PostgresBackendConfig", "PostgresConnectionConfig", "PostgresEventStoreConfig",
        "PostgresResultStoreConfig", "PostgresTaskQueueConfig",
    ],
    "._engine": ["SERVER_SETTINGS"],
    ".backend": ["AsyncPostgresBackend", "PostgresBackend"],
    ".events": ["AsyncPostgresEventStore", "PostgresEventStore"],
    ".queue": ["AsyncPostgresTaskQueue", "PostgresTaskQueue"],
    ".results": ["AsyncPostgresResultStore", "PostgresResultStore"],
})
