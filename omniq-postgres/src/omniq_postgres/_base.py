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

#: Pool sizes and timeout used when none are given.
DEFAULT_MIN_SIZE, DEFAULT_MAX_SIZE, DEFAULT_CONNECT_TIMEOUT = 1, 10, 10.0


class PostgresComponent:
    """Mixin of the PostgreSQL components (used after ``AsyncComponent.__init__`` ran)."""

    #: The ``sql/*.sql`` files holding this component's statements (``self.sql[name]``).
    statement_files: ClassVar[tuple[str, ...]] = ()
    #: Its tables' name in the schema version table: "tasks", "results" or "events".
    component: ClassVar[str] = ""
    project_name: str
    _connected: bool

    def _init_connection(
        self,
        *,
        url: str | None,
        dsn: str | None,
        host: str | None,
        port: int | None,
        username: str | None,
        password: str | None,
        database: str | None,
        schema: str | None,
        pool: Any,
        min_size: int | None,
        max_size: int | None,
        connect_timeout: float | None,
        auto_migrate: bool,
        server_settings: Mapping[str, str] | None,
    ) -> None:
        #: The arguments again, to build a sibling component on the same server.
        self._connection_args = dict(
            url=url, dsn=dsn, host=host, port=port, username=username, password=password,
            database=database, schema=schema, pool=pool, min_size=min_size, max_size=max_size,
            connect_timeout=connect_timeout, auto_migrate=auto_migrate,
            server_settings=server_settings)
        self._settings = settings_from(
            url=url, dsn=dsn, host=host, port=port, username=username, password=password,
            database=database,
            min_size=DEFAULT_MIN_SIZE if min_size is None else min_size,
            max_size=DEFAULT_MAX_SIZE if max_size is None else max_size,
            connect_timeout=connect_timeout or DEFAULT_CONNECT_TIMEOUT,
            server_settings=server_settings)
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
            await engine.release()

    async def _db(self) -> Engine:
        """The engine, connecting on first use."""
        if not self._connected:
            await self.connect()  # type: ignore[attr-defined]
        assert self._engine is not None
        return self._engine

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.dsn} schema={self.schema!r}>"
