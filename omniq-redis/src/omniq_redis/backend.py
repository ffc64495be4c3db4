"""The ``redis`` backend bundle: queue, results and events on one Redis server."""

from __future__ import annotations

from omniq._sync import make_sync
from omniq.backend import AsyncBackend

from ._config import RedisBackendConfig
from .events import AsyncRedisEventStorage
from .queue import AsyncRedisTaskQueue
from .results import AsyncRedisResultStorage


class AsyncRedisBackend(AsyncBackend):
    """Builds the Redis task queue, result store and event store from one set of connection
    settings (``RedisBackend(project_name="p", url="redis://cache:6379/0")``); each
    component keeps its own connection pool.
    """

    config_class = RedisBackendConfig
    task_queue_class = AsyncRedisTaskQueue
    result_store_class = AsyncRedisResultStorage
    event_store_class = AsyncRedisEventStorage


RedisBackend = make_sync(AsyncRedisBackend, "RedisBackend")

__all__ = ["AsyncRedisBackend", "RedisBackend", "RedisBackendConfig"]
