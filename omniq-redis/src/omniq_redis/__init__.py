"""omniq-redis: the ``redis`` task queue, result store, event store and backend bundle.

>>> from omniq_redis import RedisTaskQueue, RedisBackend   # doctest: +SKIP
>>> queue = RedisTaskQueue(host="localhost", port=6379)     # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from omniq.plugins import lazy_exports

if TYPE_CHECKING:
    from ._config import (
        RedisBackendConfig,
        RedisEventStoreConfig,
        RedisResultStoreConfig,
        RedisTaskQueueConfig,
    )
    from .backend import AsyncRedisBackend, RedisBackend
    from .events import AsyncRedisEventStore, RedisEventStore
    from .queue import AsyncRedisTaskQueue, RedisTaskQueue
    from .results import (
        AsyncRedisResultStore,
        RedisResultStore,
    )

__all__ = [
    "AsyncRedisBackend",
    "AsyncRedisEventStore",
    "AsyncRedisResultStore",
    "AsyncRedisTaskQueue",
    "RedisBackend",
    "RedisBackendConfig",
    "RedisEventStore",
    "RedisEventStoreConfig",
    "RedisResultStore",
    "RedisResultStoreConfig",
    "RedisTaskQueue",
    "RedisTaskQueueConfig",
]

# The registry imports this package to reach its entry point module: the names import on
# first use, so a program on another backend never loads this one.
__getattr__ = lazy_exports(__name__, {
    "._config": [
        "RedisBackendConfig", "RedisEventStoreConfig", "RedisResultStoreConfig",
        "RedisTaskQueueConfig",
    ],
    ".backend": ["AsyncRedisBackend", "RedisBackend"],
    ".events": ["AsyncRedisEventStore", "RedisEventStore"],
    ".queue": ["AsyncRedisTaskQueue", "RedisTaskQueue"],
    ".results": ["AsyncRedisResultStore", "RedisResultStore"],
})
