"""Config structs of the NATS components
(``NATSTaskQueue.from_config(NATSTaskQueueConfig(...))``).

msgspec needs the field types at runtime, so no ``from __future__ import annotations``.
"""

from omniq.models import ConfigStruct


class _NATSConnectionConfig(ConfigStruct, kw_only=True):
    project_name: str | None = None
    url: str | None = None
    servers: list[str] | str | None = None
    user: str | None = None
    password: str | None = None
    token: str | None = None
    user_credentials: str | None = None
    nkeys_seed: str | None = None
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_hostname: str | None = None
    name_prefix: str | None = None
    connect_timeout: float | None = None
    request_timeout: float | None = None
    replicas: int | None = None
    file_storage: bool | None = None


class NATSTaskQueueConfig(_NATSConnectionConfig, kw_only=True):
    """Settings of :class:`~omniq_nats.NATSTaskQueue`."""

    queues: list[str] | None = None


class NATSResultStoreConfig(_NATSConnectionConfig, kw_only=True):
    """Settings of :class:`~omniq_nats.NATSResultStore`."""

    max_age: float | None = None


class NATSEventStoreConfig(_NATSConnectionConfig, kw_only=True):
    """Settings of :class:`~omniq_nats.NATSEventStore`."""

    max_age: float | None = None


class NATSBackendConfig(_NATSConnectionConfig, kw_only=True):
    """Settings of :class:`~omniq_nats.NATSBackend` (shared by its three components)."""


__all__ = [
    "NATSBackendConfig",
    "NATSEventStoreConfig",
    "NATSResultStoreConfig",
    "NATSTaskQueueConfig",
]
