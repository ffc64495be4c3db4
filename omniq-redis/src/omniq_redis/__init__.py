"""omniq-redis: the ``redis`` task queue, result store, event store and backend bundle.

>>> from omniq_redis import RedisTaskQueue, RedisBackend   # doctest: +SKIP
>>> queue = RedisTaskQueue(host="localhost", port=6379)     # doctest: +SKIP
"""

from ._config import (
    RedisBackendConfig,
    RedisEventStorageConfig,
    RedisResultStorageConfig,
    RedisTaskQueueConfig,
)
from .backend import AsyncRedisBackend, RedisBackend
from .events import AsyncRedisEventStorage, AsyncRedisEventStore, RedisEventStorage, RedisEventStore
from .queue import AsyncRedisQueue, AsyncRedisTaskQueue, RedisQueue, RedisTaskQueue
from .results import (
    AsyncRedisResultStorage,
    AsyncRedisResultStore,
    RedisResultStorage,
    RedisResultStore,
)

__all__ = [
    "AsyncRedisBackend",
    "AsyncRedisEventStorage",
    "AsyncRedisEventStore",
    "AsyncRedisQueue",
    "AsyncRedisResultStorage",
    "AsyncRedisResultStore",
    "AsyncRedisTaskQueue",
    "RedisBackend",
    "RedisBackendConfig",
    "RedisEventStorage",
    "RedisEventStorageConfig",
    "RedisEventStore",
    "RedisQueue",
    "RedisResultStorage",
    "RedisResultStorageConfig",
    "RedisResultStore",
    "RedisTaskQueue",
    "RedisTaskQueueConfig",
]
