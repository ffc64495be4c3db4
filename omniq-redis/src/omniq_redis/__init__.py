"""omniq-redis: the ``redis`` task queue, result store, event store and backend bundle.

>>> from omniq_redis import RedisTaskQueue, RedisBackend   # doctest: +SKIP
>>> queue = RedisTaskQueue(host="localhost", port=6379)     # doctest: +SKIP
"""

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
