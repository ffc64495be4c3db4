"""Connections, key names, Lua scripts and error translation shared by the Redis components.

Every component takes the same connection keywords (``url=``, ``host=``/``port=``/``db=``/
``username=``/``password=``/``ssl=``, Sentinel's ``sentinels=`` and ``sentinel_master=``, or
an existing ``client=`` that stays the caller's to close) and keeps its keys under one prefix
per project, ``omniq:{project}:``. The braces are a Redis Cluster hash tag: every key of a
project hashes to one slot, so a script may touch any of them.

Driver exceptions never leave a component: :class:`RedisErrors` turns them into OmniQ's
(``BackendUnavailableError`` for what a retry may fix, ``BackendError`` otherwise), naming the
server by its URL with the password hidden.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import inspect
import logging
import re
import socket
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import hiredis
import redis.asyncio as aioredis
from omniq.config import did_you_mean, redact_url
from omniq.exceptions import BackendError, BackendUnavailableError, ConfigError, OmniQError
from redis import exceptions as rex
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

#: The path of a redis:// URL: none, or the database number.
_DB_PATH_RE = re.compile(r"/?\d*")

logger = logging.getLogger("omniq.redis")

DEFAULT_URL = "redis://127.0.0.1:6379/0"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


# Probe an idle connection after 5 s, every 2 s, give up after 3 misses (Linux names).
_KEEPALIVE = {getattr(socket, name): value for name, value in
              (("TCP_KEEPIDLE", 5), ("TCP_KEEPINTVL", 2), ("TCP_KEEPCNT", 3))
              if hasattr(socket, name)}


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch, exactly (Redis scores are doubles: exact below 2**53)."""
    return (moment - EPOCH) // _US


def from_us(value: int | bytes | str) -> datetime:
    return EPOCH + timedelta(microseconds=int(value))


#: Refused credentials: redis-py raises them as ConnectionErrors; no retry can fix them.
_REFUSED = (rex.AuthenticationError, rex.NoPermissionError,
            rex.AuthenticationWrongNumberOfArgsError)


# -- Lua -----------------------------------------------------------------------------------------
_LUA = importlib.resources.files("omniq_redis") / "lua"


def lua_source(name: str) -> str:
    """A script from ``lua/``, with the shared helpers of ``lua/lib.lua`` in front of it."""
    lib = (_LUA / "lib.lua").read_text(encoding="utf-8")
    return lib + "\n" + (_LUA / f"{name}.lua").read_text(encoding="utf-8")


class _ConnectFailed(Exception):
    """Connecting failed after redis-py's own retries: not worth retrying again."""


class Lane:
    """One connection made by the client's pool, kept for a component's hot path (claims,
    completions, results, enqueues) and used directly: a call costs a third of what a
    pooled call does, which is most of a worker's own time per task.

    Calls take turns (a lock; each is one short round trip). A call that fails half way
    (dropped connection, cancellation) marks the connection dirty: the next call starts on a
    fresh one, so no reply can ever be read by the wrong caller. Connection errors are
    retried ``retries`` times, like the pool's; every script is safe to run again.
    """

    def __init__(self, client: Any, retries: int) -> None:
        self._client, self._retries = client, retries
        self._conn: Any = None
        self._dirty = False
        self._lock: asyncio.Lock | None = None

    async def execute(self, *args: Any) -> Any:
        """Run one command and return its raw reply (error replies are raised)."""
        return (await self.pipeline(args))[0]

    async def pipeline(self, *commands: tuple[Any, ...]) -> list[Any]:
        """Send several commands at once and return their replies: the server runs each as
        soon as the one before it is done, without waiting for us (the first error reply is
        raised once every reply is read)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            failures = 0
            while True:
                try:
                    return await self._once(commands)
                except _ConnectFailed as exc:  # redis-py retried the connect already
                    assert exc.__cause__ is not None
                    raise exc.__cause__ from None
                except _REFUSED:
                    raise
                except (rex.ConnectionError, rex.TimeoutError, OSError):
                    failures += 1
                    if failures > self._retries:
                        raise
                    await asyncio.sleep(min(1.0, 0.05 * 2 ** (failures - 1)))

    async def script(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        """EVALSHA ``script`` (a redis-py Script), loading it first if the server lacks it."""
        return (await self.scripts(keys, (script, args)))[0]

    async def scripts(self, keys: list[str], *calls: tuple[Any, list[Any]]) -> list[Any]:
        """Several scripts, pipelined (one round trip), with the same ``keys``; all are run
        again if the server lacked one (every script of ours is safe to run again)."""
        commands = [("EVALSHA", script.sha, len(keys), *keys, *args) for script, args in calls]
        try:
            return await self.pipeline(*commands)
        except rex.NoScriptError:  # a restarted server has an empty script cache
            for script, _ in calls:
                await self.execute("SCRIPT", "LOAD", script.script)
            return await self.pipeline(*commands)

    async def _once(self, commands: tuple[tuple[Any, ...], ...]) -> list[Any]:
        conn = self._conn
        if conn is None:  # made by the pool (so Sentinel finds the master), kept out of it
            conn = self._conn = self._client.connection_pool.make_connection()
        if self._dirty:
            await conn.disconnect()
            self._dirty = False
        if not conn.is_connected:
            try:
                await conn.connect()
            except (rex.ConnectionError, rex.TimeoutError, OSError) as exc:
                raise _ConnectFailed from exc
        try:
            # hiredis packs the commands in C; redis-py's own packing checks every argument
            # in Python first, which costs a tenth of a whole enqueue.
            await conn.send_packed_command(b"".join(map(hiredis.pack_command, commands)))
            replies, error = [], None
            for _ in commands:
                try:
                    replies.append(await conn.read_response())
                except rex.ResponseError as exc:  # a whole error reply was read: in step
                    replies.append(exc)
                    error = error or exc
        except BaseException:
            self._dirty = True
            raise
        if error is not None:
            raise error
        return replies

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.disconnect()
            except Exception as exc:  # a broken connection is being dropped anyway
                logger.debug("closing a Redis connection: %s", exc)


# -- errors --------------------------------------------------------------------------------------
def _refuse_unknown(cls: type, base_init: Any, component: dict[str, Any]) -> None:
    """A keyword neither this class nor its component base takes: named here, with the one
    meant, rather than as Python's TypeError from the base (``**component`` passes them on,
    so the options check that reads the signature cannot see them)."""
    taken = set(inspect.signature(base_init).parameters)
    unknown = sorted(set(component) - taken)
    if unknown:
        own = {n for n in inspect.signature(cls).parameters if n != "component"}
        choices = sorted((own | taken) - {"self", "project_name", "secret_key"})
        raise ConfigError(f"unknown option {unknown[0]!r} for {cls.__name__}",
                          field=unknown[0], value=component[unknown[0]],
                          expected="one of " + ", ".join(choices),
                          hint=did_you_mean(unknown[0], choices) or None)


def translate(exc: BaseException, where: str, prefix: str) -> Exception:
    """The OmniQ error for a redis-py (or socket) exception."""
    text = str(exc)
    if isinstance(exc, _REFUSED) or any(
            word in text for word in ("WRONGPASS", "NOAUTH", "NOPERM", "invalid password")):
        return BackendError(f"Redis at {where} refused the credentials: {text}")
    if "WRONGTYPE" in text:
        return BackendError(
            f"a key under {prefix}* on Redis at {where} holds the wrong kind of value "
            f"(something other than OmniQ wrote it; use another project name or delete it): "
            f"{text}")
    if isinstance(exc, rex.ConnectionError | rex.TimeoutError | rex.BusyLoadingError
                  | OSError | TimeoutError) or text.startswith(("LOADING", "READONLY",
                                                                "MASTERDOWN", "TRYAGAIN")):
        return BackendUnavailableError(f"Redis at {where} is unavailable: {text}")
    return BackendError(f"Redis at {where} failed: {text}")


class _Retry(Retry):
    """redis-py's retry, except for refused credentials (a ConnectionError to redis-py):
    asking again with the same password cannot help, and only makes the error slow."""

    async def call_with_retry(self, do: Any, fail: Any, is_retryable: Any = None,
                              with_failure_count: bool = False) -> Any:
        return await super().call_with_retry(
            do, fail, lambda exc: not isinstance(exc, _REFUSED)
            and (is_retryable is None or is_retryable(exc)), with_failure_count)


# An older redis-py without ``is_retryable`` retries refused credentials too (slower).
_RETRY_CLASS = _Retry if "is_retryable" in inspect.signature(Retry.call_with_retry).parameters \
    else Retry


class RedisErrors:
    """``with errors:`` around driver calls re-raises their exceptions as OmniQ's."""

    __slots__ = ("prefix", "where")

    def __init__(self, where: str, prefix: str) -> None:
        self.where, self.prefix = where, prefix

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is not None and not isinstance(exc, OmniQError) \
                and isinstance(exc, rex.RedisError | OSError | TimeoutError):
            raise translate(exc, self.where, self.prefix) from exc


# -- the connection mixin ------------------------------------------------------------------------
class RedisConnection:
    """Connection handling shared by the queue, result store and event store.

    Args:
        url: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` for TLS, or
            ``unix:///path/redis.sock?db=0``. Default ``redis://127.0.0.1:6379/0``.
        host, port, db, username, password, ssl: The same, as separate keywords (they
            override the URL's parts).
        client: An existing ``redis.asyncio.Redis``; used as is and never closed here.
        sentinels: ``[(host, port), ...]`` of Redis Sentinels; with ``sentinel_master``
            the components follow the master that the Sentinels name.
        sentinel_master: The Sentinel service name (e.g. ``"mymaster"``).
        key_prefix: First part of every key (``omniq`` gives ``omniq:{project}:...``).
        socket_connect_timeout: Seconds to wait for a connection (an unreachable host
            fails after this long).
        socket_timeout: Seconds to wait for a reply before the server counts as gone.
            Default None: TCP keepalive (probes after 5 s idle) finds a dead server; set
            it only on Python 3.12+ (see ``_client_kwargs``).
        max_connections: Size of the connection pool.
        retries: Times a command is retried after a dropped connection (every OmniQ write
            is idempotent or fenced, so a retry cannot apply one twice).
    """

    #: The Lua scripts (``lua/<name>.lua``) this component registers when it connects.
    script_names: tuple[str, ...] = ()
    #: Set by the component base class (``AsyncTaskQueue`` and the rest) in ``__init__``.
    project_name: str

    def __init__(
        self,
        *,
        project_name: str | None = None,
        secret_key: str | None = None,
        url: str | None = None,
        host: str | None = None,
        port: int | None = None,
        db: int | None = None,
        username: str | None = None,
        password: str | None = None,
        ssl: bool | None = None,
        client: Any = None,
        sentinels: Sequence[tuple[str, int]] | None = None,
        sentinel_master: str | None = None,
        key_prefix: str = "omniq",
        socket_connect_timeout: float | None = None,
        socket_timeout: float | None = None,
        max_connections: int | None = None,
        retries: int = 3,
        **component: Any,
    ) -> None:
        # The component base that follows in the MRO (AsyncTaskQueue, AsyncResultStore,
        # AsyncEventStore) takes the project, the key and its own settings (`queues`).
        _refuse_unknown(type(self), super().__init__, component)
        super().__init__(project_name=project_name, secret_key=secret_key,  # type: ignore[call-arg]
                         **component)
        if client is not None and not isinstance(client, aioredis.Redis):
            raise ConfigError("client must be a redis.asyncio.Redis", field="client",
                              value=type(client).__name__,
                              expected="redis.asyncio.Redis(...) (not the blocking redis.Redis)")
        if url is not None and not isinstance(url, str):
            raise ConfigError("url must be a string", field="url", value=url,
                              expected="redis://host:port/db")
        if url is not None and url.split("://", 1)[0].lower() not in ("redis", "rediss", "unix"):
            raise ConfigError("not a Redis URL", field="url", value=redact_url(url),
                              expected="redis://, rediss:// or unix://")
        if url is not None and not url.lower().startswith("unix:") \
                and not _DB_PATH_RE.fullmatch(urlsplit(url).path):
            # redis-py reads "/abc" as no database at all: the tasks went to database 0.
            raise ConfigError("the database in a Redis URL is a number", field="url",
                              value=redact_url(url), expected="redis://host:port/<0, 1, 2...>")
        if sentinels and not sentinel_master:
            raise ConfigError("sentinels need sentinel_master", field="sentinel_master",
                              value=None, expected="the Sentinel service name, e.g. 'mymaster'")
        if not isinstance(key_prefix, str) or not key_prefix or any(c in key_prefix
                                                                   for c in "{} \t\n"):
            raise ConfigError("bad key_prefix", field="key_prefix", value=key_prefix,
                              expected="a non-empty string without braces or spaces")
        self._url = url
        self._opts: dict[str, Any] = {"host": host, "port": port, "db": db,
                                      "username": username, "password": password, "ssl": ssl}
        self._given_client = client
        self._sentinels = [(host, port) for host, port in sentinels] if sentinels else None
        self._sentinel_master = sentinel_master
        self._timeouts = (socket_connect_timeout, socket_timeout)
        self._max_connections = max_connections
        self._retries = retries
        #: Every key of this project starts with this (hash-tagged for Redis Cluster).
        self.prefix = f"{key_prefix}:{{{self.project_name}}}:"
        #: KEYS of every script call: the project's anchor key (routing only; see lua/lib.lua).
        self._keys = [self.prefix + "anchor"]
        self.where = self._describe()
        self.errors = RedisErrors(self.where, self.prefix)
        self.client: Any = None
        self.lane: Any = None
        self._owns_client = False
        self._scripts: dict[str, Any] = {}
        self._init_state()

    def _init_state(self) -> None:
        """Set up the component's own state; called once the connection settings are."""

    def _describe(self) -> str:
        if self._given_client is not None:
            kw = self._given_client.connection_pool.connection_kwargs
            return redact_url(f"redis://{kw.get('host', '?')}:{kw.get('port', '?')}/"
                              f"{kw.get('db', 0)}")
        if self._sentinels:
            hosts = ",".join(f"{h}:{p}" for h, p in self._sentinels)
            return f"redis-sentinel://{hosts}/{self._sentinel_master}"
        o = self._opts
        if self._url is not None:
            return redact_url(self._url if o["db"] is None else f"{self._url} (db {o['db']})")
        if all(value is None for value in o.values()):
            return DEFAULT_URL
        scheme = "rediss" if o["ssl"] else "redis"
        auth = ""
        if o["username"] or o["password"]:
            auth = quote(o["username"] or "", safe="") + (
                ":" + quote(o["password"] or "", safe="") if o["password"] else "") + "@"
        return redact_url(f"{scheme}://{auth}{o['host'] or '127.0.0.1'}:{o['port'] or 6379}/"
                          f"{o['db'] or 0}")

    def _client_kwargs(self) -> dict[str, Any]:
        connect_timeout, timeout = self._timeouts
        kwargs: dict[str, Any] = {
            "socket_connect_timeout": 5.0 if connect_timeout is None else connect_timeout,
            # No socket timeout by default: on Python 3.11, redis-py bounds each send with
            # asyncio.wait_for, which can swallow a task's cancellation (a worker then never
            # stops). A dead server is found by TCP keepalive instead, tuned to seconds.
            "socket_timeout": timeout,
            "socket_keepalive": True,
            "socket_keepalive_options": _KEEPALIVE,
            "health_check_interval": 30,
            "retry": _RETRY_CLASS(ExponentialBackoff(cap=1.0, base=0.05), self._retries),
            "retry_on_error": [rex.ConnectionError, rex.TimeoutError, rex.BusyLoadingError],
        }
        if self._max_connections:
            kwargs["max_connections"] = self._max_connections
        return kwargs

    def _new_client(self) -> Any:
        kwargs = self._client_kwargs()
        given = {k: v for k, v in self._opts.items() if v is not None}
        if self._sentinels:
            from redis.asyncio.sentinel import Sentinel

            sentinel_kwargs = {k: v for k, v in given.items() if k in ("username", "password")}
            sentinel = Sentinel(self._sentinels, sentinel_kwargs=sentinel_kwargs or None,
                                **{k: v for k, v in given.items() if k != "host"
                                   and k != "port"}, **kwargs)
            return sentinel.master_for(str(self._sentinel_master))
        if self._url is not None and not given:
            return aioredis.from_url(self._url, **kwargs)
        if self._url is not None:
            # The keywords override the URL's parts, as documented: redis-py's from_url would
            # let the URL win (db=3 beside redis://host/0 went to database 0).
            from redis.asyncio.connection import ConnectionPool, SSLConnection, parse_url

            options = {**parse_url(self._url), **given}
            if options.pop("ssl", False):
                options["connection_class"] = SSLConnection
            return aioredis.Redis.from_pool(ConnectionPool(**options, **kwargs))
        given.setdefault("host", "127.0.0.1")
        return aioredis.Redis(**given, **kwargs)

    async def _connect(self) -> None:
        """Create (or adopt) the client, check that the server answers and register the
        scripts (a failure here is cleaned up by ``_close``, which ``connect`` then calls)."""
        if self._given_client is not None:
            self.client, self._owns_client = self._given_client, False
        else:
            self.client, self._owns_client = self._new_client(), True
        self.lane = Lane(self.client, self._retries)
        with self.errors:
            await self.lane.execute("PING")
        # ``SCRIPT LOAD`` happens on first call; redis-py loads a script again by itself
        # after a server restart empties the script cache.
        self._scripts = {name: self.client.register_script(lua_source(name))
                         for name in self.script_names}

    async def _close(self) -> None:
        lane, self.lane = self.lane, None
        if lane is not None:
            await lane.close()
        client, self.client = self.client, None
        if client is not None and self._owns_client:
            try:
                await client.aclose()
            except Exception as exc:  # closing a broken connection must not mask anything
                logger.debug("closing Redis client: %s", exc)
