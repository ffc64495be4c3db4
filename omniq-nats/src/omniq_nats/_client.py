"""Connections, names and error translation shared by the NATS components.

Every component takes the same connection keywords (``servers=`` or ``url=``: one
``nats://[user:password@]host:port`` URL, a comma-separated list or a list; ``user``,
``password``, ``token``, ``user_credentials`` (a ``.creds`` file), ``nkeys_seed`` (a seed
file), ``tls_ca_file``/``tls_cert_file``/``tls_key_file``, or an existing ``client=`` that
stays the caller's to close). Each component opens its own connection.

Names: a project's buckets and streams are ``<prefix>_<project>_tasks`` (KV),
``<prefix>_<project>_results`` (KV) and ``<prefix>_<project>_events`` (stream, subjects
``<prefix>.<project>.ev.>``). Keys hold ids as they are when they are safe as NATS tokens
(UUIDs are), else as ``=`` and their hex.

Driver exceptions never leave a component: :class:`NATSErrors` turns them into OmniQ's
(``BackendUnavailableError`` for what a retry may fix, ``BackendError`` otherwise), naming
the servers with their passwords hidden.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import re
import ssl
import urllib.parse
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

import msgspec
import nats
import nats.errors
import nats.js.errors
from nats.js import api
from omniq.config import redact_url
from omniq.exceptions import BackendError, BackendUnavailableError, ConfigError, OmniQError
from omniq.sync import pausable

logger = logging.getLogger("omniq.nats")

DEFAULT_URL = "nats://127.0.0.1:4222"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_SAFE = re.compile(r"[A-Za-z0-9_-]{1,200}")
_SCHEMES = ("nats", "tls", "ws", "wss")
#: Bytes of a message's max_payload kept for what is not the stored blob.
RECORD_ROOM = 4096


def to_us(moment: datetime) -> int:
    return (moment - EPOCH) // _US


def from_us(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=int(value))


def token(value: str) -> str:
    """``value`` as one NATS subject token / KV key part, reversibly (see :func:`untoken`)."""
    return value if _SAFE.fullmatch(value) else "=" + value.encode().hex()


def untoken(value: str) -> str:
    return bytes.fromhex(value[1:]).decode() if value.startswith("=") else value


def name_token(value: str) -> str:
    """A project name as part of a stream or bucket name (no dots allowed there)."""
    return value if "." not in value else "x" + value.encode().hex()


# -- errors --------------------------------------------------------------------------------------
_UNAVAILABLE = (nats.errors.NoServersError, nats.errors.ConnectionClosedError,
                nats.errors.TimeoutError, nats.errors.StaleConnectionError,
                nats.errors.ConnectionReconnectingError, nats.errors.NoRespondersError,
                nats.errors.OutboundBufferLimitError, nats.errors.FlushTimeoutError,
                nats.js.errors.NoStreamResponseError, nats.js.errors.ServiceUnavailableError,
                OSError, TimeoutError, asyncio.TimeoutError)
_REFUSED = (nats.errors.AuthorizationError,)


def translate(exc: BaseException, where: str) -> Exception:
    """The OmniQ error for a nats-py (or socket) exception."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, _REFUSED) or "authorization" in text.lower():
        return BackendError(f"NATS at {where} refused the credentials: {text}; check user, "
                            "password, token or the credentials file")
    if isinstance(exc, _UNAVAILABLE):
        return BackendUnavailableError(f"NATS at {where} is unavailable: {text}")
    if isinstance(exc, nats.js.errors.APIError) and exc.code == 503:
        return BackendUnavailableError(
            f"JetStream at {where} is unavailable: {text} (is the server started with -js?)")
    return BackendError(f"NATS at {where} failed: {text}")


class NATSErrors:
    """``with errors:`` around driver calls re-raises their exceptions as OmniQ's."""

    __slots__ = ("where",)

    def __init__(self, where: str) -> None:
        self.where = where

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is not None and not isinstance(exc, OmniQError) \
                and isinstance(exc, nats.errors.Error | OSError | TimeoutError):
            raise translate(exc, self.where) from exc


# -- requests ------------------------------------------------------------------------------------
class _Reply(msgspec.Struct):
    """The parts of a JetStream API reply read here (a publish ack, or stream info)."""
    seq: int = 0
    state: dict[str, Any] = {}
    error: dict[str, Any] | None = None


_decode_reply = msgspec.json.Decoder(_Reply).decode
#: Error codes of a compare-and-set refused for a wrong last revision.
_WRONG_LAST = (10071, 10164)


class Requests:
    """JetStream requests on one reply subscription, many in flight. nats-py's ``request``
    spends more of a worker's time on its own bookkeeping (a random token, a ``wait_for``
    per call) and on reading the reply into dataclasses than on the round trip; here a
    request is a counter, a future and a timer, and a reply is read by msgspec."""

    def __init__(self, nc: Any, timeout: float) -> None:
        self.nc, self.timeout = nc, timeout
        self._prefix = nc.new_inbox() + "."
        self._waiting: dict[str, asyncio.Future[Any]] = {}
        self._count = 0
        self._sub: Any = None

    async def start(self) -> None:
        self._sub = await self.nc.subscribe(self._prefix + "*", cb=self._on_reply)

    async def stop(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            try:
                await sub.unsubscribe()
            except Exception as exc:  # the connection may be gone already
                logger.debug("dropping the reply subscription: %s", exc)

    async def _on_reply(self, msg: Any) -> None:
        future = self._waiting.pop(msg.subject[len(self._prefix):], None)
        if future is not None and not future.done():
            future.set_result(msg)

    async def _send(self, subject: str, payload: bytes, headers: dict[str, str] | None
                    ) -> tuple[str, asyncio.Future[Any], asyncio.TimerHandle]:
        self._count += 1
        key = str(self._count)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._waiting[key] = future
        timer = loop.call_later(self.timeout, _expire, future)
        try:
            await self.nc.publish(subject, payload, reply=self._prefix + key, headers=headers)
        except BaseException:
            self._forget((key, future, timer))
            raise
        return key, future, timer

    def _forget(self, sent: tuple[str, asyncio.Future[Any], asyncio.TimerHandle]) -> None:
        key, future, timer = sent
        timer.cancel()
        future.cancel()
        self._waiting.pop(key, None)

    async def _receive(self, sent: tuple[str, asyncio.Future[Any], asyncio.TimerHandle]
                       ) -> _Reply:
        try:
            msg = await sent[1]
        finally:
            self._forget(sent)
        if not msg.data:  # a status only: 503 when no stream listens on the subject
            raise nats.errors.NoRespondersError
        try:
            reply = _decode_reply(msg.data)
        except msgspec.DecodeError as exc:
            raise nats.js.errors.APIError(description=f"unreadable JetStream reply: {exc}") \
                from exc
        if reply.error is not None:
            if reply.error.get("err_code") in _WRONG_LAST:
                raise nats.js.errors.KeyWrongLastSequenceError(
                    description=reply.error.get("description"))
            raise nats.js.errors.APIError.from_error(reply.error)
        return reply

    async def put_many(self, items: Sequence[tuple[str, bytes, int | None]]
                       ) -> list[int | Exception]:
        """Store each ``(subject, payload, last)`` (when ``last`` is not None: only if the
        subject's last message is at that sequence, 0 for none), all in flight at once
        (without a task each); per item its stream sequence, or the error it met (a refused
        compare-and-set as nats-py's ``KeyWrongLastSequenceError``)."""
        sent: list[tuple[str, asyncio.Future[Any], asyncio.TimerHandle]] = []
        try:
            for subject, payload, last in items:
                headers = None if last is None else \
                    {"Nats-Expected-Last-Subject-Sequence": str(last)}
                sent.append(await self._send(subject, payload, headers))
        except BaseException:
            for pending in sent:
                self._forget(pending)
            raise
        done: list[int | Exception] = []
        try:
            for pending in sent:
                try:
                    done.append((await self._receive(pending)).seq)
                except Exception as exc:
                    done.append(exc)
        finally:  # cancelled: nothing left waiting
            for pending in sent:
                self._forget(pending)
        return done

    async def last_sequence(self, stream: str) -> int:
        reply = await self._receive(await self._send(f"$JS.API.STREAM.INFO.{stream}", b"",
                                                     None))
        return int(reply.state.get("last_seq", 0))


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(nats.errors.TimeoutError())


# -- the connection mixin ------------------------------------------------------------------------
def _server_list(url: str | None, servers: str | Sequence[str] | None) -> list[str]:
    given: list[str] = []
    for item in (url, servers):
        if item is None:
            continue
        if isinstance(item, str):
            given += [s.strip() for s in item.split(",") if s.strip()]
        elif isinstance(item, Sequence) and all(isinstance(s, str) for s in item):
            given += list(item)
        else:
            raise ConfigError("servers must be a URL or a list of URLs", field="servers",
                              value=item, expected='["nats://host:4222", ...]')
    for server in given:
        if server.split("://", 1)[0].lower() not in _SCHEMES or "://" not in server:
            raise ConfigError("not a NATS URL", field="servers", value=redact_url(server),
                              expected="nats://host:port (or tls://, ws://, wss://)")
        try:
            urllib.parse.urlsplit(server).port  # noqa: B018 (reading it checks it)
        except ValueError as exc:
            raise ConfigError(f"a NATS URL with a bad port: {exc}", field="servers",
                              value=redact_url(server),
                              expected="nats://host:port with a port from 1 to 65535") from None
    return given or [DEFAULT_URL]


def _need_nkeys_for(auth: dict[str, Any]) -> None:
    """nats-py signs with a credentials or seed file through the ``nkeys`` package, which it
    does not install: say so here rather than let it fail inside the connection."""
    given = [name for name in ("user_credentials", "nkeys_seed") if auth.get(name)]
    if given and importlib.util.find_spec("nkeys") is None:
        raise ConfigError(f"{given[0]} needs the nkeys package, which is not installed",
                          field=given[0], value=auth[given[0]],
                          expected="pip install nkeys (nats-py signs with it)")


def _unreadable(field: str, path: str | None, exc: Exception) -> ConfigError:
    return ConfigError(f"cannot load the TLS file {path}: {getattr(exc, 'strerror', None) or exc}",
                       field=field, value=path,
                       expected="a readable PEM file (CA bundle, certificate or key)")


class NATSConnection:
    """Connection handling shared by the queue, result store and event store.

    Args:
        servers: ``nats://[user:password@]host:port`` URLs (a list, or one string with
            commas); the client fails over between them. Default ``nats://127.0.0.1:4222``.
        url: The same as ``servers`` (what ``backend_type``/URL configuration passes).
        user, password, token: Credentials, unless the URLs carry them.
        user_credentials: Path of a ``.creds`` file (JWT and NKey seed).
        nkeys_seed: Path of an NKey seed file.
        tls_ca_file, tls_cert_file, tls_key_file, tls_hostname: TLS settings (a CA bundle
            to trust, a client certificate and key); ``tls://`` URLs use TLS with the system's
            CAs.
        client: An existing connected ``nats.aio.client.Client``; used as is, never closed.
        name_prefix: First part of every stream, bucket and subject name (default ``omniq``).
        connect_timeout: Seconds to wait for a server (an unreachable one fails after this).
        request_timeout: Seconds to wait for a JetStream reply.
        replicas: Replicas of the streams and buckets this component creates (clusters).
        file_storage: Keep streams on disk (default True); False keeps them in memory.
    """

    project_name: str

    def __init__(
        self,
        *,
        project_name: str | None = None,
        secret_key: str | None = None,
        servers: str | Sequence[str] | None = None,
        url: str | None = None,
        user: str | None = None,
        password: str | None = None,
        token: str | None = None,
        user_credentials: str | None = None,
        nkeys_seed: str | None = None,
        tls_ca_file: str | None = None,
        tls_cert_file: str | None = None,
        tls_key_file: str | None = None,
        tls_hostname: str | None = None,
        client: Any = None,
        name_prefix: str = "omniq",
        connect_timeout: float = 2.0,
        request_timeout: float = 5.0,
        replicas: int = 1,
        file_storage: bool = True,
        **component: Any,
    ) -> None:
        super().__init__(project_name=project_name, secret_key=secret_key,  # type: ignore[call-arg]
                         **component)
        if client is not None and not hasattr(client, "jetstream"):
            raise ConfigError("client must be a nats-py client", field="client",
                              value=type(client).__name__,
                              expected="await nats.connect(...) (nats.aio.client.Client)")
        if not isinstance(name_prefix, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", name_prefix):
            raise ConfigError("bad name_prefix", field="name_prefix", value=name_prefix,
                              expected="letters, digits, '_' or '-'")
        self._servers = _server_list(url, servers)
        self._auth = {"user": user, "password": password, "token": token,
                      "user_credentials": user_credentials, "nkeys_seed": nkeys_seed}
        self._tls_files = (tls_ca_file, tls_cert_file, tls_key_file)
        self._tls_hostname = tls_hostname
        self._given_client = client
        self._connect_timeout = connect_timeout
        self._request_timeout = request_timeout
        self._replicas = replicas
        self._storage = api.StorageType.FILE if file_storage else api.StorageType.MEMORY
        self.name_prefix = name_prefix
        #: Stream and bucket names start with this; subjects with ``subject_base``.
        self.base = f"{name_prefix}_{name_token(self.project_name)}"
        self.subject_base = f"{name_prefix}.{name_token(self.project_name)}"
        self.where = ",".join(redact_url(s) for s in self._servers)
        self.errors = NATSErrors(self.where)
        self.nc: Any = None
        self.js: Any = None
        self.requests: Requests | None = None
        self._init_component()

    def _init_component(self) -> None:
        """The component's own state, set up once the settings are known."""

    def _payload_limit(self) -> int:
        """The largest message this server takes (its ``max_payload``), less room for the
        subject, headers and the record's own fields."""
        return int(self.nc.max_payload) - RECORD_ROOM

    def connection_settings(self) -> dict[str, Any]:
        """The keywords that reach the same servers (for sibling components)."""
        if self._given_client is not None:
            base: dict[str, Any] = {"client": self._given_client}
        else:
            ca, cert, key = self._tls_files
            base = {"servers": list(self._servers), **self._auth, "tls_ca_file": ca,
                    "tls_cert_file": cert, "tls_key_file": key,
                    "tls_hostname": self._tls_hostname, "connect_timeout": self._connect_timeout}
        return {**base, "name_prefix": self.name_prefix,
                "request_timeout": self._request_timeout, "replicas": self._replicas,
                "file_storage": self._storage == api.StorageType.FILE}

    def _tls_context(self) -> ssl.SSLContext | None:
        ca, cert, key = self._tls_files
        if not (ca or cert):
            return None
        try:
            context = ssl.create_default_context(cafile=ca)
        except (OSError, ssl.SSLError) as exc:
            raise _unreadable("tls_ca_file", ca, exc) from exc
        if cert:
            try:
                context.load_cert_chain(cert, key)
            except (OSError, ssl.SSLError) as exc:
                at_fault = "tls_key_file" if key and getattr(exc, "filename", None) == key \
                    else "tls_cert_file"
                raise _unreadable(at_fault, key if at_fault == "tls_key_file" else cert,
                                  exc) from exc
        return context

    async def _open(self) -> None:
        if self._given_client is not None:
            self.nc = self._given_client
        else:
            options: dict[str, Any] = {k: v for k, v in self._auth.items() if v is not None}
            _need_nkeys_for(options)
            tls = self._tls_context()
            if tls is not None:
                options["tls"] = tls
            if self._tls_hostname:
                options["tls_hostname"] = self._tls_hostname

            seen: list[Exception] = []

            async def on_error(exc: Exception) -> None:  # nats-py logs nothing by itself
                if len(seen) < 16:  # the first few tell why connecting failed
                    seen.append(exc)
                logger.debug("NATS at %s: %s", self.where, exc)

            try:
                with self.errors:
                    # Each server is tried twice at first, so an unreachable one fails the
                    # call (BackendUnavailableError) instead of hanging it ...
                    self.nc = await nats.connect(
                        servers=self._servers, connect_timeout=self._connect_timeout,
                        allow_reconnect=True, max_reconnect_attempts=1,
                        reconnect_time_wait=0.5, error_cb=on_error,
                        reconnected_cb=self._reconnected,
                        name=f"omniq {self.project_name}", **options)
            except BackendUnavailableError as exc:
                # nats-py reports refused credentials only to the error callback, then says
                # "no servers available": name the real cause.
                refused = [e for e in seen if isinstance(e, _REFUSED)
                           or "authorization" in str(e).lower()]
                if refused:
                    raise translate(refused[-1], self.where) from exc
                raise
            # ... but once connected, a server that goes away is waited for without end:
            # calls meanwhile raise BackendUnavailableError, and workers back off and resume.
            self.nc.options["max_reconnect_attempts"] = -1
        self.js = self.nc.jetstream(timeout=self._request_timeout)
        self.requests = Requests(self.nc, self._request_timeout)
        with self.errors:
            await self.requests.start()
        pause_when_idle(self.nc)

    async def _reconnected(self) -> None:
        if self.nc is not None:
            pause_when_idle(self.nc)  # the connection's tasks are new ones

    async def _shut(self) -> None:
        nc, self.nc, self.js = self.nc, None, None
        requests, self.requests = self.requests, None
        if requests is not None:
            await requests.stop()
        if nc is not None and self._given_client is None:
            try:
                await nc.close()
            except Exception as exc:  # closing a broken connection must not mask anything
                logger.debug("closing NATS connection: %s", exc)

    async def _key_value(self, bucket: str, **config: Any) -> Any:
        """The KV bucket ``bucket``, created when missing."""
        with self.errors:
            try:
                found = await self.js.key_value(bucket)
            except nats.js.errors.BucketNotFoundError:
                found = await self.js.create_key_value(api.KeyValueConfig(
                    bucket=bucket, history=1, storage=self._storage, replicas=self._replicas,
                    **config))
        pause_when_idle(self.nc)  # the subscription of nats-py's requests is new
        return found


def pause_when_idle(*owners: Any) -> None:
    """Let the blocking API's loop rest between calls although these nats-py objects keep
    tasks on it (a connection's reader, flusher and pinger; a subscription's dispatcher):
    they serve calls in progress, and a thread kept running the loop for them would cost every
    blocking call two thread switches (see ``omniq.sync.pausable``; the loop still gives them
    a turn every second, to answer the server's pings). A connection brings its current
    subscriptions along. The attributes are nats-py's own: one it no longer has is skipped,
    which is slower, never wrong. Nothing on other loops."""
    for owner in owners:
        subscriptions = getattr(owner, "_subs", None)
        if isinstance(subscriptions, dict):
            pause_when_idle(*subscriptions.values())
        for name in ("_reading_task", "_flusher_task", "_ping_interval_task",
                     "_wait_for_msgs_task"):
            task = getattr(owner, name, None)
            if isinstance(task, asyncio.Task):
                pausable(task)


async def scan(js: Any, stream: str, subject: str, *,
               last_per_subject: bool = False, headers_only: bool = False) -> list[Any]:
    """Every message of ``stream`` on ``subject`` (or the last per subject), read once by
    an ephemeral pull consumer that acknowledges nothing and is deleted afterwards."""
    config = api.ConsumerConfig(
        ack_policy=api.AckPolicy.NONE, headers_only=headers_only or None,
        deliver_policy=api.DeliverPolicy.LAST_PER_SUBJECT if last_per_subject
        else api.DeliverPolicy.ALL, inactive_threshold=60.0, mem_storage=True)
    sub = await js.pull_subscribe(subject, stream=stream, config=config)
    name = None
    try:
        info = await sub.consumer_info()
        name, remaining = info.name, info.num_pending
        found: list[Any] = []
        while remaining > 0:
            try:
                batch = await sub.fetch(min(remaining, 512), timeout=5.0)
            except nats.errors.TimeoutError:
                break  # messages deleted meanwhile: nothing more to read
            found += batch
            remaining = batch[-1].metadata.num_pending if batch else 0
        return found
    finally:
        try:
            await sub.unsubscribe()
            if name is not None:
                await js.delete_consumer(stream, name)
        except Exception as exc:  # the consumer goes away by itself when inactive
            logger.debug("deleting a scan consumer: %s", exc)
