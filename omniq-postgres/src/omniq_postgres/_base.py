"""What the PostgreSQL queue, result store and event store share: connection arguments, the
project's schema, the engine (pool) they connect through, and their SQL statements."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ._engine import (
    Engine,
    channel_name,
    open_engine,
    schema_name,
    settings_from,
    statements,
)
from ._listener import OnPayload
from ._wakeups import QueueWakeups, ResultWaiters


class PostgresComponent:
    """Mixin of the PostgreSQL components, before their component base class in the MRO.

    Its constructor is the result and event stores' (the queue's adds ``queues``); the
    arguments are documented on :class:`~omniq_postgres.AsyncPostgresTaskQueue`.
    """

    #: The ``sql/*.sql`` files holding this component's statements (``self.sql[name]``).
    statement_files: ClassVar[tuple[str, ...]] = ()
    #: Its tables' name in the schema version table: "tasks", "results" or "events".
    component: ClassVar[str] = ""
    project_name: str
    _connected: bool
    #: The NOTIFY channel and handler subscribed by the first wait, dropped on close.
    _subscribed: tuple[str, OnPayload] | None = None

    def __init__(self, *, project_name: str | None = None, url: str | None = None,
                 dsn: str | None = None, host: str | None = None, port: int | None = None,
                 username: str | None = None, password: str | None = None,
                 database: str | None = None, schema: str | None = None, pool: Any = None,
                 min_size: int | None = None, max_size: int | None = None,
                 connect_timeout: float | None = None, auto_migrate: bool = True,
                 server_settings: Mapping[str, str] | None = None,
                 secret_key: str | None = None) -> None:
        super().__init__(project_name=project_name, secret_key=secret_key)  # type: ignore[call-arg]
        self._init_connection(url=url, dsn=dsn, host=host, port=port, username=username,
                              password=password, database=database, schema=schema, pool=pool,
                              min_size=min_size, max_size=max_size,
                              connect_timeout=connect_timeout, auto_migrate=auto_migrate,
                              server_settings=server_settings)

    def _init_connection(self, *, schema: str | None, pool: Any, auto_migrate: bool,
                         **connection: Any) -> None:
        """Check and keep the connection arguments (``connection``: :func:`settings_from`'s)."""
        #: The arguments again, to build a sibling component on the same server.
        self._connection_args = dict(connection, schema=schema, pool=pool,
                                     auto_migrate=auto_migrate)
        self._settings = settings_from(**connection)
        self._pool = pool
        self._auto_migrate = auto_migrate
        #: The PostgreSQL schema holding this project's tables.
        self.schema = schema_name(self.project_name, schema)
        self.sql = {name: sql for file in self.statement_files
                    for name, sql in statements(file, self.schema).items()}
        self._engine: Engine | None = None

    @property
    def dsn(self) -> str:
        """Where this component connects, without the password."""
        return self._settings.display

    def _channel(self, suffix: str) -> str:
        return channel_name(self.schema, suffix)

    async def _connect(self) -> None:
        engine = await open_engine(self._settings, self._pool)
        try:
            await engine.ensure_schema(self.schema, self.component, self._auto_migrate)
        except BaseException:
            await engine.release()
            raise
        self._engine = engine

    async def _close(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            if self._subscribed is not None:
                engine.listener.unsubscribe(*self._subscribed)
            await engine.release()
        self._subscribed = None

    async def _db(self) -> Engine:
        """The engine, connecting on first use."""
        if not self._connected:
            await self.connect()  # type: ignore[attr-defined]
        assert self._engine is not None
        return self._engine

    async def _listen(self, suffix: str, handler: QueueWakeups | ResultWaiters) -> Engine:
        """The engine, with ``handler`` (``on_payload``, ``on_reset``) subscribed to this
        schema's ``suffix`` channel from the first call until close."""
        db = await self._db()
        if self._subscribed is None:
            channel = self._channel(suffix)
            await db.listener.subscribe(channel, handler.on_payload, handler.on_reset)
            self._subscribed = (channel, handler.on_payload)
        return db

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.dsn} schema={self.schema!r}>"
