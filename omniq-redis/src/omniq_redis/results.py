"""The ``redis`` result store: one string key per result with Redis's own expiry, a sorted
set per schedule, and a pub/sub channel that wakes ``get_result`` the moment a result lands.

Keys under ``omniq:{project}:``: ``r:<task id>`` (the signed, encoded result, ``PX`` = its
ttl), ``rs:<schedule id>`` (task ids by finish time; entries whose result expired are dropped
when read) and the channel ``done``, on which each batch of results is announced (with the
blobs themselves when the batch is small, so a waiter needs no further round trip).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import anyio
import msgspec
from omniq.clock import utcnow
from omniq.storage import AsyncResultStore
from omniq.sync import ResultStore, pausable

from ._client import RedisConnection, to_us
from ._config import RedisResultStoreConfig

logger = logging.getLogger("omniq.redis")

#: Announce blobs with their ids when a batch's results add up to less than this many bytes.
INLINE_BYTES = 16_384
#: Announcements (and unanswered reads) remembered per store, and for how long.
RECENT = 4096
RECENT_SECONDS = 5.0
_pack = msgspec.msgpack.Encoder().encode


class _Waiter:
    __slots__ = ("blob", "event")

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.blob: bytes | None = None


class AsyncRedisResultStore(RedisConnection, AsyncResultStore):
    """Task results in Redis, expired by Redis itself.

    Args:
        project_name: Namespace of this project's keys (``omniq:{project}:...``).
        secret_key: Key that signs stored values.
        url, host, port, db, username, password, ssl, client, sentinels, sentinel_master,
        key_prefix, socket_connect_timeout, socket_timeout, max_connections, retries:
            How to reach Redis; see :class:`omniq_redis._client.RedisConnection`.
    """

    config_class = RedisResultStoreConfig
    script_names = ("put",)

    def _init_state(self) -> None:
        self._channel = self.prefix + "done"
        self._waiters: dict[str, set[_Waiter]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._subscribed: asyncio.Event | None = None
        # Subscriptions so far: a read made under the current one needs no repeating.
        self._epoch = 0
        # Task ids read (and found missing) while subscribed, with the subscription then.
        self._checked: OrderedDict[str, int] = OrderedDict()
        # What the channel announced lately: task id -> (when, blob or None if not inline).
        self._recent: OrderedDict[str, tuple[float, bytes | None]] = OrderedDict()

    async def _close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
        await super()._close()

    # -- writing -------------------------------------------------------------------------------
    async def put_blob(self, task_id: str, blob: bytes, *, expires_at: datetime | None,
                       schedule_id: str | None, finished_at: datetime) -> None:
        await self.put_blobs([(task_id, blob, expires_at, schedule_id, finished_at)])

    async def put_blobs(self, items: Sequence[tuple[str, bytes, datetime | None, str | None,
                                                    datetime]]) -> None:
        """Every result of the batch, and its announcement, in one script call."""
        if not items:
            return
        await self.connect()
        with self.errors:
            await self.lane.script(self._scripts["put"], self._keys, put_args(self.prefix, items))

    # -- reading -------------------------------------------------------------------------------
    async def get_blob(self, task_id: str) -> bytes | None:
        await self.connect()
        epoch = self._epoch if self._subscribed is not None and self._subscribed.is_set() \
            else None
        with self.errors:
            blob = await self.lane.execute("GET", self.prefix + "r:" + task_id)
        if blob is None and epoch is not None:
            _remember(self._checked, task_id, epoch)
        return blob  # type: ignore[no-any-return]

    async def schedule_blobs(self, schedule_id: str, *, latest_only: bool) -> list[bytes]:
        await self.connect()
        key = self.prefix + "rs:" + schedule_id
        r = self.prefix + "r:"
        found: list[bytes] = []
        with self.errors:
            ids = await self.client.zrange(key, 0, -1)
            if latest_only:
                ids = ids[::-1]
            gone = []
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                blobs = await self.client.mget([r + i.decode() for i in chunk])
                for task_id, blob in zip(chunk, blobs, strict=True):
                    if blob is None:
                        gone.append(task_id)
                    else:
                        found.append(blob)
                if latest_only and found:
                    break
            if gone:  # their results expired: drop them from the index too
                await self.client.zrem(key, *gone)
        return found[:1] if latest_only else found

    async def delete_blob(self, task_id: str) -> bool:
        await self.connect()
        self._recent.pop(task_id, None)
        with self.errors:
            return bool(await self.client.delete(self.prefix + "r:" + task_id))

    async def purge_expired(self, now: datetime) -> int:
        """Redis expires results by itself (``PX``); nothing to do."""
        return 0

    # -- waiting -------------------------------------------------------------------------------
    async def wait_blob(self, task_id: str, timeout: float, poll_interval: float) -> bytes | None:
        """Wait for the result, woken by the ``done`` channel (no polling while it works)."""
        await self.connect()
        waiter = _Waiter()
        self._waiters.setdefault(task_id, set()).add(waiter)
        try:
            checked = self._checked.pop(task_id, None)
            seen = self._recent.get(task_id)
            if seen is not None and time.monotonic() - seen[0] < RECENT_SECONDS:
                return seen[1] if seen[1] is not None else await self.get_blob(task_id)
            if not await self._ensure_listener():
                return await super().wait_blob(task_id, timeout, poll_interval)
            if checked != self._epoch:
                # Read once we are subscribed: a result stored after this read is announced
                # to us. (A read already made under this same subscription, as get_result
                # does first, needs no repeating: what landed since is in _recent.)
                blob = await self.get_blob(task_id)
                if blob is not None:
                    return blob
            with anyio.move_on_after(timeout):
                await waiter.event.wait()
            if waiter.blob is not None:
                return waiter.blob
            return await self.get_blob(task_id)
        finally:
            waiters = self._waiters.get(task_id)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[task_id]

    async def _ensure_listener(self) -> bool:
        """Start the subscriber if needed; True once it is subscribed."""
        if self._listener is None or self._listener.done():
            self._subscribed = asyncio.Event()
            # It only wakes waiters of this process: between blocking calls of the sync API,
            # announcements wait in its socket (see omniq.sync.pausable).
            self._listener = pausable(asyncio.get_running_loop().create_task(
                self._listen(), name=f"omniq-redis-results-{self.project_name}"))
        assert self._subscribed is not None
        with anyio.move_on_after(2.0):
            await self._subscribed.wait()
        return self._subscribed.is_set()

    async def _listen(self) -> None:
        delay = 0.05
        while True:
            pubsub = self.client.pubsub()
            try:
                await pubsub.subscribe(self._channel)
                while True:
                    msg = await pubsub.get_message(timeout=5.0)
                    if msg is None:
                        continue
                    if msg["type"] == "subscribe":
                        assert self._subscribed is not None
                        self._epoch += 1
                        self._subscribed.set()
                        delay = 0.05
                    elif msg["type"] == "message":
                        self._dispatch(msg["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # reconnect; waiters re-read on their own timeouts
                assert self._subscribed is not None
                self._subscribed.clear()
                logger.debug("result subscription on %s failed: %s", self.where, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            finally:
                with contextlib.suppress(Exception):  # a broken connection goes anyway
                    await pubsub.aclose()

    def _dispatch(self, data: bytes) -> None:
        try:
            announced = _announced(data)
        except ValueError:
            logger.warning("ignoring a malformed message on %s", self._channel)
            return
        now = time.monotonic()
        for task_id, blob in announced:
            _remember(self._recent, task_id, (now, blob))
            for waiter in self._waiters.get(task_id, ()):
                waiter.blob = blob
                waiter.event.set()


def _announced(data: bytes) -> list[tuple[str, bytes | None]]:
    """Decode put.lua's announcement: per result "<task id> <blob length or ->\\n<blob>"."""
    out: list[tuple[str, bytes | None]] = []
    at, end = 0, len(data)
    while at < end:
        eol = data.index(b"\n", at)
        task_id, size = data[at:eol].split(b" ")
        at = eol + 1
        blob = None
        if size != b"-":
            blob, at = data[at:at + int(size)], at + int(size)
            if len(blob) != int(size):
                raise ValueError("announcement cut short")
        out.append((task_id.decode(), blob))
    return out


def _remember(cache: OrderedDict[str, Any], key: str, value: Any) -> None:
    cache[key] = value
    if len(cache) > RECENT:
        cache.popitem(last=False)


class RedisResultStore(ResultStore, twin_of=AsyncRedisResultStore):
    """Blocking twin of :class:`AsyncRedisResultStore`."""


__all__ = ["AsyncRedisResultStore", "RedisResultStore", "RedisResultStoreConfig"]


def put_args(prefix: str, items: Sequence[tuple[str, bytes, datetime | None, str | None,
                                                datetime]],
             landed_as: Sequence[tuple[str, int]] | None = None) -> list[Any]:
    """The arguments of put.lua for ``items`` under key ``prefix``; with ``landed_as`` (status
    and attempt per item) each is written only if its task's finish landed (see put.lua)."""
    now = utcnow()
    meta: list[tuple[Any, ...]] = []
    for n, (task_id, blob, expires_at, schedule_id, finished_at) in enumerate(items):
        ttl = 0  # keep
        if expires_at is not None:  # a relative PX: the server's clock may differ
            ms = int((expires_at - now).total_seconds() * 1000)
            ttl = ms if ms > 0 else -1  # -1: already past its ttl, nothing to keep
        entry = (task_id, ttl, schedule_id or "", str(to_us(finished_at)), len(blob))
        meta.append(entry if landed_as is None else (*entry, landed_as[n][0],
                                                     str(landed_as[n][1])))
    inline = sum(len(item[1]) for item in items) <= INLINE_BYTES
    return [prefix, "blobs" if inline else "ids", _pack(meta),
            b"".join(item[1] for item in items)]
