"""The ``redis`` backend bundle: queue, results and events on one Redis server."""

from __future__ import annotations

from omniq.backend import AsyncBackend
from omniq.sync import Backend

from ._config import RedisBackendConfig
from .events import AsyncRedisEventStore
from .queue import AsyncRedisTaskQueue
from .results import AsyncRedisResultStore


class AsyncRedisBackend(AsyncBackend):
    """Builds the Redis task queue, result store and event store from one set of connection
    settings (``RedisBackend(project_name="p", url="redis://cache:6379/0")``); each
    component keeps its own connection pool.
    """

    config_class = RedisBackendConfig
    task_queue_class = AsyncRedisTaskQueue
    result_store_class = AsyncRedisResultStore
    event_store_class = AsyncRedisEventStore


class RedisBackend(Backend, twin_of=AsyncRedisBackend):
    """Blocking twin of :class:`AsyncRedisBackend`."""


__all__ = ["AsyncRedisBackend", "RedisBackend", "RedisBackendConfig"]
