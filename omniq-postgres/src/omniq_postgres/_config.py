"""Config structs of the PostgreSQL components (``PostgresTaskQueue.from_config(...)``).

msgspec needs the field types at runtime, so this module does not use
``from __future__ import annotations``.
"""


from omniq.models import ConfigStruct


class PostgresConnectionConfig(ConfigStruct, kw_only=True):
    """Where the PostgreSQL components connect, and how (the arguments of
    :class:`~omniq_postgres.AsyncPostgresTaskQueue`)."""

    project_name: str | None = None
    url: str | None = None
    dsn: str | None = None
    host: str | None = None
    port: int | None = None
    username: str | None = None
    password: str | None = None
    database: str | None = None
    schema: str | None = None
    min_size: int | None = None
    max_size: int | None = None
    connect_timeout: float | None = None
    auto_migrate: bool | None = None
    server_settings: dict[str, str] | None = None


class PostgresTaskQueueConfig(PostgresConnectionConfig, kw_only=True):
    """Config of :class:`PostgresTaskQueue`: the connection plus the queues it serves."""

    queues: list[str] | None = None


class PostgresResultStoreConfig(PostgresConnectionConfig, kw_only=True):
    """Config of :class:`PostgresResultStore`."""


class PostgresEventStoreConfig(PostgresConnectionConfig, kw_only=True):
    """Config of :class:`PostgresEventStore`."""


class PostgresBackendConfig(PostgresConnectionConfig, kw_only=True):
    """Config of :class:`PostgresBackend`."""
