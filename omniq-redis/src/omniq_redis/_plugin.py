"""Entry point of omniq-redis: registers the ``redis`` types (classes load on first use)."""

from __future__ import annotations

from omniq.plugins import Register, hookimpl

_SCHEMES = ["redis", "rediss"]


@hookimpl
def omniq_register_task_queues(register: Register) -> None:
    register("redis", "omniq_redis.queue:AsyncRedisTaskQueue", schemes=_SCHEMES,
             exports=["RedisTaskQueue", "RedisTaskQueueConfig"])


@hookimpl
def omniq_register_result_stores(register: Register) -> None:
    register("redis", "omniq_redis.results:AsyncRedisResultStore", schemes=_SCHEMES,
             exports=["RedisResultStore", "AsyncRedisResultStore", "RedisResultStoreConfig"])


@hookimpl
def omniq_register_event_stores(register: Register) -> None:
    register("redis", "omniq_redis.events:AsyncRedisEventStore", schemes=_SCHEMES,
             exports=["RedisEventStore", "AsyncRedisEventStore", "RedisEventStoreConfig"])


@hookimpl
def omniq_register_backends(register: Register) -> None:
    register("redis", "omniq_redis.backend:AsyncRedisBackend",
             exports=["RedisBackend", "RedisBackendConfig"])
