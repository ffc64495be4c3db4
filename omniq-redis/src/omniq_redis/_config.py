"""Config structs of the Redis components
(``RedisTaskQueue.from_config(RedisTaskQueueConfig(...))``).

msgspec needs the field types at runtime, so no ``from __future__ import annotations``.
"""

from typing import Any

from omniq.models import ConfigStruct


class _RedisConnectionConfig(ConfigStruct, kw_only=True):
    project_name: str | None = None
    url: str | None = None
    host: str | None = None
    port: int | None = None
    db: int | None = None
    username: str | None = None
    password: str | None = None
    ssl: bool | None = None
    sentinels: list[Any] | None = None
    sentinel_master: str | None = None
    key_prefix: str | None = None
    socket_connect_timeout: float | None = None
    socket_timeout: float | None = None
    max_connections: int | None = None
    retries: int | None = None


class RedisTaskQueueConfig(_RedisConnectionConfig, kw_only=True):
    """Settings of :class:`~omniq_redis.RedisTaskQueue`."""

    queues: list[str] | None = None


class RedisResultStoreConfig(_RedisConnectionConfig, kw_only=True):
    """Settings of :class:`~omniq_redis.RedisResultStore`."""


class RedisEventStoreConfig(_RedisConnectionConfig, kw_only=True):
    """Settings of :class:`~omniq_redis.RedisEventStore`."""


class RedisBackendConfig(_RedisConnectionConfig, kw_only=True):
    """Settings of :class:`~omniq_redis.RedisBackend` (shared by its three components)."""


__all__ = [
    "RedisBackendConfig",
    "RedisEventStoreConfig",
    "RedisResultStoreConfig",
    "RedisTaskQueueConfig",
]
