"""Config structs of the PostgreSQL components (``PostgresTaskQueue.from_config(...)``).

msgspec needs the field types at runtime, so this module does not use
``from __future__ import annotations``.
"""


from omniq.models import ConfigStruct


class PostgresConnectionConfig(ConfigStruct, kw_only=True):
    """Where the PostgreSQL components connect, and how.

    Attributes:
        project_name: Namespace: the tables live in the schema ``omniq_<project_name>``.
        url: ``postgresql://user:password@host:port/database`` (``dsn`` is the same thing).
        host, port, username, password, database: Connection parameters; they override the
            URL's parts. Unset ones fall back to libpq's ``PG*`` environment variables and
            defaults (the database defaults to the user name).
        schema: Schema holding this project's tables (default ``omniq_<project_name>``).
        min_size, max_size: Size of the connection pool.
        connect_timeout: Seconds to wait for a connection.
        auto_migrate: Upgrade an older schema on first use (False: refuse with an error).
        server_settings: Session settings (``{"application_name": "x"}``).
    """

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
