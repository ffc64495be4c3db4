"""Connections to PostgreSQL: settings, one shared pool per loop and server, error translation,
SQL files and schema migrations.

Components of one process that connect to the same server with the same settings (a
backend's queue, result store and event store; several sync objects on the sync loop) share
one :class:`Engine`: one asyncpg pool and one LISTEN connection, reference-counted and closed
with the last component. A pool passed in by the user is used as it is and never closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import re
import socket
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import asyncpg
from omniq.config import redact_url, validate_name
from omniq.exceptions import BackendError, BackendUnavailableError, ConfigError, OmniQError

from ._listener import Listener

logger = logging.getLogger("omniq.postgres")

SCHEMES = ("postgres", "postgresql")
_NAME_MAX = 63  # PostgreSQL truncates identifiers (and refuses channel names) beyond this
_TRANSIENT = (OSError, TimeoutError, asyncpg.PostgresConnectionError,
              asyncpg.CannotConnectNowError, asyncpg.AdminShutdownError,
              asyncpg.exceptions.CrashShutdownError, asyncpg.TooManyConnectionsError,
              asyncpg.exceptions.TransactionRollbackError)


#: Session settings of our pooled connections (``server_settings=`` may override them).
#: Every statement we run is a few index probes, whose best plan does not depend on the data:
#: these settings make PostgreSQL pick that plan whatever its statistics say, once per
#: connection. Left to itself, it plans from statistics that lag behind a queue's swings:
#: prepared while the tables were empty, a completion would hash-join a sequential scan of
#: the backlog, and an enqueue scan every finished task, until autovacuum next analyzes them;
#: on a table just filled in bulk and not analyzed yet, each claim would sort the backlog
#: (55 ms at 100,000 tasks instead of 0.3 ms).
SERVER_SETTINGS = {
    "plan_cache_mode": "force_generic_plan",  # plan once per connection, not per call
    "enable_seqscan": "off",  # a table scan only where no index can answer
    "enable_hashjoin": "off",  # joins are a handful of rows probing a primary key
    "enable_mergejoin": "off",
    "jit": "off",  # compiling plans only adds latency to statements this short
}


# -- settings -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConnectionSettings:
    """What :func:`asyncpg.create_pool` gets; ``key`` tells engines apart."""

    dsn: str | None
    host: str | None
    port: int | None
    user: str | None
    password: str | None
    database: str | None
    min_size: int
    max_size: int
    connect_timeout: float
    server_settings: tuple[tuple[str, str], ...]

    def connect_kwargs(self) -> dict[str, Any]:
        settings = {**SERVER_SETTINGS, **dict(self.server_settings)}
        kwargs: dict[str, Any] = {"timeout": self.connect_timeout, "server_settings": settings}
        for name in ("dsn", "host", "port", "user", "password", "database"):
            if getattr(self, name) is not None:
                kwargs[name] = getattr(self, name)
        return kwargs

    def __repr__(self) -> str:  # str() too: the display hides the password
        return f"ConnectionSettings({self.display})"

    @property
    def display(self) -> str:
        """The DSN for messages, without its password."""
        parts = [f"{k}={getattr(self, k)}" for k in ("host", "port", "user", "database")
                 if getattr(self, k) is not None]
        if self.dsn is not None:
            return redact_url(self.dsn) + (f" ({', '.join(parts)})" if parts else "")
        auth = (self.user or "$PGUSER") + (":***" if self.password else "")
        return (f"postgresql://{auth}@{self.host or '$PGHOST'}:{self.port or 5432}/"
                f"{self.database or self.user or '$PGDATABASE'}")


def settings_from(*, url: str | None, dsn: str | None, host: str | None, port: int | None,
                  username: str | None, password: str | None, database: str | None,
                  min_size: int | None, max_size: int | None, connect_timeout: float | None,
                  server_settings: Mapping[str, str] | None) -> ConnectionSettings:
    """Check the constructor's connection arguments and bundle them (None: the default)."""
    min_size = 1 if min_size is None else min_size
    max_size = 10 if max_size is None else max_size
    if url is not None and dsn is not None and url != dsn:
        raise ConfigError("give url or dsn, not both", field="dsn", value=redact_url(dsn))
    dsn = url if url is not None else dsn
    if dsn is not None:
        scheme = dsn.partition("://")[0].lower()
        if scheme not in SCHEMES:
            raise ConfigError("not a PostgreSQL URL", field="url", value=redact_url(dsn),
                              expected="postgresql://user:password@host:port/database")
    if port is not None and (not isinstance(port, int) or isinstance(port, bool)
                             or not 0 < port < 65536):
        raise ConfigError("bad port", field="port", value=port, expected="an int in 1..65535")
    if not (isinstance(min_size, int) and isinstance(max_size, int) and 0 <= min_size <= max_size
            and max_size >= 1):
        raise ConfigError("bad pool sizes", field="max_size", value=(min_size, max_size),
                          expected="0 <= min_size <= max_size, max_size >= 1")
    return ConnectionSettings(dsn, host, port, username, password, database, min_size, max_size,
                              float(connect_timeout or 10.0),
                              tuple(sorted((server_settings or {}).items())))


def schema_name(project: str, schema: str | None) -> str:
    """The schema of a project: ``omniq_<project>``, shortened with a digest if too long."""
    if schema is not None:
        validate_name("schema", schema)
        if len(schema) > _NAME_MAX:
            raise ConfigError("schema name too long", field="schema", value=schema,
                              expected=f"at most {_NAME_MAX} characters")
        return schema
    name = f"omniq_{project}"
    if len(name) <= _NAME_MAX:
        return name
    return f"omniq_{project[:48]}_{hashlib.sha1(project.encode()).hexdigest()[:8]}"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def channel_name(schema: str, suffix: str) -> str:
    """A NOTIFY channel of this schema (``t``: tasks, ``r``: results), within 63 bytes."""
    base = schema if len(schema) + len(suffix) < _NAME_MAX else \
        "omniq_" + hashlib.sha1(schema.encode()).hexdigest()[:20]
    return f"{base}:{suffix}"


# -- errors ---------------------------------------------------------------------------------------
def translate(exc: BaseException, display: str,
              timeout: float | None = None) -> OmniQError | None:
    """The OmniQ error for a driver error (None: not a driver error, let it through).

    ``timeout``: the connect timeout, when ``exc`` comes from opening connections.
    """
    if isinstance(exc, TimeoutError) and timeout is not None:
        # asyncpg says nothing but "TimeoutError": say what it means.
        return BackendUnavailableError(
            f"PostgreSQL at {display} is unavailable: no PostgreSQL server answered within the "
            f"connect timeout of {timeout:g} s; the port may belong to another program, or "
            "the server is unreachable or overloaded (check host and port, or raise "
            "connect_timeout=)")
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        return BackendError(f"PostgreSQL refused the login to {display}: {exc} "
                            "(check username and password)")
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return BackendError(f"PostgreSQL at {display}: {exc} (create it, e.g. createdb, or "
                            "pass database=...)")
    if isinstance(exc, _TRANSIENT) or (
            isinstance(exc, asyncpg.InterfaceError | asyncpg.exceptions.InternalClientError)
            and ("closed" in str(exc) or "in progress" in str(exc))):
        return BackendUnavailableError(f"PostgreSQL at {display} is unavailable: "
                                       f"{type(exc).__name__}: {exc}")
    if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError
                  | asyncpg.exceptions.InternalClientError):
        return BackendError(f"PostgreSQL at {display}: {type(exc).__name__}: {exc}")
    return None


@contextlib.contextmanager
def translating(display: str, timeout: float | None = None) -> Iterator[None]:
    """Raise driver errors as OmniQ errors (``raise ... from`` the original); ``timeout``: the
    connect timeout, when connections are being opened."""
    try:
        yield
    except OmniQError:
        raise
    except Exception as exc:
        new = translate(exc, display, timeout)
        if new is None:
            raise
        raise new from exc


# -- SQL: files and migrations ---------------------------------------------------------------------
_NAME_LINE = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
# Every table of a project; statements name them bare and get them qualified with its schema.
_TABLES = re.compile(r"\b(omniq_(?:tasks_done|tasks|task_deps|task_ids|schedules|workers|results|"
                     r"events|schema_version))\b")


@functools.lru_cache(maxsize=1024)
def qualify(sql: str, schema: str) -> str:
    """``sql`` with its tables in ``schema``."""
    return _TABLES.sub(quote_ident(schema) + r".\1", sql)


def read_sql(filename: str) -> str:
    return resources.files(__package__).joinpath("sql", filename).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=256)
def statements(filename: str, schema: str) -> dict[str, str]:
    """The named statements (``-- name: x`` blocks) of one of our files, for one schema."""
    parts = _NAME_LINE.split(read_sql(filename))
    return {name: qualify(body.strip(), schema)
            for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def _steps(component: str) -> dict[int, list[str]]:
    """``sql/<component>_v1.sql``, ``_v2``, ...: each file one step, run as one script."""
    steps: dict[int, list[str]] = {}
    version = 1
    while True:
        try:
            steps[version] = [read_sql(f"{component}_v{version}.sql")]
        except FileNotFoundError:
            return steps
        version += 1


#: component -> {version: statements bringing it from version-1 to version}. A component is at
#: the version of its newest file; a new release adds a file and never edits a shipped one.
MIGRATIONS: dict[str, dict[int, list[str]]] = {
    component: _steps(component) for component in ("tasks", "results", "events")}
_VERSION = "schema_version.sql"


async def _version(conn: Any, schema: str, component: str) -> int:
    table = qualify("omniq_schema_version", schema)
    if await conn.fetchval("SELECT to_regclass($1)", table) is None:
        return 0
    found = await conn.fetchval(statements(_VERSION, schema)["get_version"], component)
    return int(found or 0)


async def migrate(conn: Any, schema: str, component: str, auto_migrate: bool,
                  display: str) -> None:
    """Bring ``component``'s tables in ``schema`` to the latest version in one transaction,
    or refuse with a clear error having written nothing."""
    steps = MIGRATIONS[component]
    latest = max(steps)
    where = f"schema {schema!r} at {display}"
    version = await _version(conn, schema, component)
    if version == latest:
        return

    def check(found: int) -> None:
        if found > latest:
            raise BackendError(f"the {component} tables of {where} are at version {found}, "
                               f"newer than this omniq-postgres knows ({latest}): upgrade "
                               "omniq-postgres to open them. Nothing was written.")
        if found and not auto_migrate:
            raise BackendError(f"the {component} tables of {where} are at version {found}, "
                               f"older than {latest}, and auto_migrate is off: open them once "
                               "with auto_migrate=True to upgrade. Nothing was written.")

    check(version)
    async with conn.transaction():
        # One migrator per schema at a time; the others find the work done after the lock.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                           f"omniq-migrate:{schema}")
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
        await conn.execute(statements(_VERSION, schema)["create_table"])
        version = await _version(conn, schema, component)
        check(version)
        for number in range(version + 1, latest + 1):
            try:
                for sql in steps[number]:
                    await conn.execute(qualify(sql, schema))
            except asyncpg.PostgresError as exc:
                raise BackendError(
                    f"migrating the {component} tables of {where} to version {number} failed: "
                    f"{type(exc).__name__}: {exc}. Rolled back: they are still at version "
                    f"{version}.") from exc
            await conn.execute(statements(_VERSION, schema)["set_version"], component, number)
        if 0 < version < latest:  # not when another process migrated them while we waited
            logger.info("%s tables of %s migrated from version %d to %d", component, where,
                        version, latest)


async def _keep_session(conn: Any) -> None:
    """Release a pooled connection as it is. asyncpg's default sends a reset query (unlisten,
    reset settings, unlock) on every release, a second round trip per statement; our pooled
    connections never LISTEN (the listener has its own), hold session locks or change session
    settings (only ``set_config(..., true)``, which ends with its transaction)."""


# -- the shared engine ----------------------------------------------------------------------------
class Engine:
    """A pool, a LISTEN connection and the schemas known to be current, for one loop."""

    def __init__(self, settings: ConnectionSettings, pool: Any, key: tuple[Any, ...]) -> None:
        self.settings, self.pool, self.key = settings, pool, key
        self.own_pool = pool is None
        self.display = settings.display
        self.refs = 0
        self.listener = Listener(self)
        self._ready: set[tuple[str, str]] = set()
        self._lock = asyncio.Lock()
        self._loop = asyncio.get_running_loop()
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()  # those we opened

    async def _opened(self, conn: Any) -> None:
        self._connections.add(conn)

    async def start(self) -> None:
        async with self._lock:
            if self.pool is None:
                with translating(self.display, self.settings.connect_timeout):
                    self.pool = await asyncpg.create_pool(
                        min_size=self.settings.min_size, max_size=self.settings.max_size,
                        reset=_keep_session, init=self._opened,
                        **self.settings.connect_kwargs())

    async def new_connection(self) -> Any:
        """A connection outside the pool (for LISTEN); from the user's pool if we have one."""
        if not self.own_pool:
            return await self.pool.acquire()
        conn = await asyncpg.connect(**self.settings.connect_kwargs())
        await self._opened(conn)
        return conn

    async def drop_connection(self, conn: Any) -> None:
        if not self.own_pool:
            await self.pool.release(conn)
        else:
            await conn.close(timeout=2)

    async def ensure_schema(self, schema: str, component: str, auto_migrate: bool) -> None:
        """Create or upgrade ``component``'s tables in ``schema`` (once per engine)."""
        if (schema, component) in self._ready:
            return
        async with self._lock:
            if (schema, component) in self._ready:
                return
            with translating(self.display):
                async with self.pool.acquire() as conn:
                    await migrate(conn, schema, component, auto_migrate, self.display)
            self._ready.add((schema, component))

    async def release(self) -> None:
        self.refs -= 1
        if self.refs > 0:
            return
        if _engines.get(self.key) is self:
            del _engines[self.key]
        if self._loop.is_closed():
            self._hang_up()
            return
        await self.listener.close()
        if self.own_pool and self.pool is not None:
            pool, self.pool = self.pool, None
            try:
                await asyncio.wait_for(pool.close(), 5)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                pool.terminate()

    def _hang_up(self) -> None:
        """End the server sessions of the connections this engine opened in an event loop
        that has ended. They cannot be closed through that loop (asyncpg's ``terminate()``
        fails there before it says goodbye), and the sessions would live on until this
        process exits, a transaction the loop's end interrupted holding its locks. Shutting
        the socket down makes PostgreSQL end the session and roll that transaction back."""
        for conn in list(self._connections):
            transport = getattr(conn, "_transport", None)  # asyncpg has no public accessor
            sock = transport.get_extra_info("socket") if transport is not None else None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    # Queries, with driver errors translated at this boundary.
    async def _run(self, method: str, sql: str, args: tuple[Any, ...]) -> Any:
        with translating(self.display):
            async with self.pool.acquire() as conn:
                try:
                    return await getattr(conn, method)(sql, *args)
                except (asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError):
                    # A connection left in a broken state (the server went away mid-way):
                    # never hand it out again.
                    conn.terminate()
                    raise

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        return await self._run("fetch", sql, args)  # type: ignore[no-any-return]

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        return await self._run("fetchrow", sql, args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._run("fetchval", sql, args)

    async def execute(self, sql: str, *args: Any) -> str:
        return await self._run("execute", sql, args)  # type: ignore[no-any-return]

    async def executemany(self, sql: str, rows: list[Any]) -> None:
        await self._run("executemany", sql, (rows,))


_engines: dict[tuple[Any, ...], Engine] = {}


async def open_engine(settings: ConnectionSettings, pool: Any = None) -> Engine:
    """The engine for these settings (or this pool) on the running loop, started."""
    loop = asyncio.get_running_loop()
    key = (loop, "pool", id(pool)) if pool is not None else (loop, settings)
    engine = _engines.get(key)
    if engine is None:
        engine = _engines[key] = Engine(settings, pool, key)
    engine.refs += 1
    try:
        await engine.start()
    except BaseException:
        await engine.release()
        raise
    return engine
