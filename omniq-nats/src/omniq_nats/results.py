"""The ``nats`` result store: a KV bucket (``<prefix>_<project>_results``) with a key per
result, ``r.<task id>``, and one per result of a schedule, ``s.<schedule id>.<task id>``.

A result keeps its own expiry beside the blob: JetStream 2.9 has no per-message TTL (2.11
adds it), only a bucket-wide ``max_age``, so reads skip what has expired and
:meth:`purge_expired` deletes it (``max_age=`` still bounds the bucket, as a backstop).
``get_result`` waits on the key's subject: every KV write is a message on
``$KV.<bucket>.r.<task id>``, so a plain subscription wakes the waiter the moment the result
lands, without a poll and without a consumer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import anyio
import msgspec
import nats.js.errors
from omniq.clock import utcnow
from omniq.contract import ResultRecord
from omniq.storage import AsyncResultStore
from omniq.sync import ResultStore

from ._client import NATSConnection, from_us, scan, to_us, token, untoken
from ._config import NATSResultStoreConfig

logger = logging.getLogger("omniq.nats")

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(tuple[int | None, str | None, int, bytes]).decode
_Missing = (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError)
#: Results written at once by put_blobs.
PUT_CONCURRENCY = 256


class AsyncNATSResultStore(NATSConnection, AsyncResultStore):
    """Task results in a NATS JetStream KV bucket.

    Args:
        project_name: Namespace of this project's bucket.
        secret_key: Key that signs stored values.
        max_age: Seconds after which the bucket drops any result whatever its ttl (default
            None: results live until their own ``result_ttl``, removed by ``purge``).
        servers, url, user, password, token, user_credentials, nkeys_seed, tls_ca_file,
        tls_cert_file, tls_key_file, tls_hostname, client, name_prefix, connect_timeout,
        request_timeout, replicas, file_storage:
            How to reach NATS; see :class:`omniq_nats._client.NATSConnection`.
    """

    config_class = NATSResultStoreConfig

    def __init__(self, *, max_age: float | None = None, **settings: Any) -> None:
        self._max_age = max_age
        super().__init__(**settings)

    def _init_component(self) -> None:
        self.bucket = f"{self.base}_results"
        self._kv: Any = None

    async def _connect(self) -> None:
        await self._open()
        self._kv = await self._key_value(self.bucket, ttl=self._max_age)
        self.blob_size_limit = self._payload_limit()

    async def _close(self) -> None:
        await self._shut()

    # -- writing -------------------------------------------------------------------------------
    async def put_blob(self, task_id: str, blob: bytes, *, expires_at: datetime | None,
                       schedule_id: str | None, finished_at: datetime) -> None:
        await self.put_blobs([ResultRecord(task_id, blob, expires_at, schedule_id, finished_at)])

    async def put_blobs(self, records: Sequence[ResultRecord]) -> None:
        """The batch's writes in flight together (the schedule index first, so a result a
        waiter sees is already listed under its schedule)."""
        if not records:
            return
        await self.connect()
        requests, prefix = self.requests, f"$KV.{self.bucket}."
        assert requests is not None
        index: list[tuple[str, bytes, None]] = []
        values: list[tuple[str, bytes, None]] = []
        for task_id, blob, expires_at, schedule_id, finished_at in records:
            expires = None if expires_at is None else to_us(expires_at)
            finished = to_us(finished_at)
            if schedule_id is not None:
                index.append((f"{prefix}s.{token(schedule_id)}.{token(task_id)}",
                              _encode((expires, None, finished, b"")), None))
            values.append((f"{prefix}r.{token(task_id)}",
                           _encode((expires, schedule_id, finished, blob)), None))
        with self.errors:
            for batch in (index, values):
                for start in range(0, len(batch), PUT_CONCURRENCY):
                    done = await requests.put_many(batch[start:start + PUT_CONCURRENCY])
                    for error in (e for e in done if isinstance(e, Exception)):
                        raise error

    # -- reading -------------------------------------------------------------------------------
    async def get_blob(self, task_id: str) -> bytes | None:
        await self.connect()
        with self.errors:
            try:
                entry = await self._kv.get("r." + token(task_id))
            except _Missing:
                return None
        return _unexpired(entry.value)

    async def schedule_blobs(self, schedule_id: str, *, latest_only: bool) -> list[bytes]:
        await self.connect()
        prefix = f"$KV.{self.bucket}.s.{token(schedule_id)}."
        with self.errors:
            messages = await scan(self.js, f"KV_{self.bucket}", prefix + ">",
                                  last_per_subject=True)
        now = to_us(utcnow())
        runs = []
        for msg in messages:
            if not msg.data:
                continue  # a deleted entry
            expires, _, finished, _ = _decode(msg.data)
            if expires is None or expires > now:
                runs.append((finished, msg.subject[len(prefix):]))
        runs.sort(reverse=latest_only)
        found = []
        for _, task_token in runs:
            blob = await self.get_blob(untoken(task_token))
            if blob is not None:
                found.append(blob)
                if latest_only:
                    break
        return found

    async def delete_blob(self, task_id: str) -> bool:
        await self.connect()
        key = "r." + token(task_id)
        with self.errors:
            try:
                entry = await self._kv.get(key)
            except _Missing:
                return False
            await self._kv.delete(key)
            _, schedule_id, _, _ = _decode(entry.value)
            if schedule_id is not None:
                await self._kv.delete(f"s.{token(schedule_id)}.{token(task_id)}")
        return True

    async def purge_expired(self, now: datetime) -> int:
        """Delete results (and schedule entries) whose ttl has passed; returns how many
        results."""
        await self.connect()
        cutoff = to_us(now)
        removed = 0
        with self.errors:
            messages = await scan(self.js, f"KV_{self.bucket}", f"$KV.{self.bucket}.>",
                                  last_per_subject=True)
            for msg in messages:
                if not msg.data:
                    continue
                expires = _decode(msg.data)[0]
                if expires is not None and expires <= cutoff:
                    key = msg.subject[len(f"$KV.{self.bucket}."):]
                    await self._kv.delete(key)
                    removed += key.startswith("r.")
        return removed

    # -- waiting -------------------------------------------------------------------------------
    async def wait_blob(self, task_id: str, timeout: float, poll_interval: float) -> bytes | None:
        """Subscribe to the result's key, read it once, then wait for its write."""
        await self.connect()
        landed: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()

        async def on_write(msg: Any) -> None:
            if msg.data and not landed.done():
                landed.set_result(_unexpired(msg.data))

        with self.errors:
            sub = await self.nc.subscribe(f"$KV.{self.bucket}.r.{token(task_id)}", cb=on_write)
        try:
            blob = await self.get_blob(task_id)
            if blob is not None:
                return blob
            blob = None
            with anyio.move_on_after(timeout):  # not asyncio.wait_for: see _mirror.py
                blob = await landed
            # A write missed while reconnecting is found by one last read.
            return blob if blob is not None else await self.get_blob(task_id)
        finally:
            try:
                await sub.unsubscribe()
            except Exception as exc:  # a closed connection has no subscription left
                logger.debug("unsubscribing a result waiter: %s", exc)


def _unexpired(value: bytes | None) -> bytes | None:
    if not value:
        return None
    expires, _, _, blob = _decode(value)
    if expires is not None and from_us(expires) <= utcnow():
        return None
    return blob


class NATSResultStore(ResultStore, twin_of=AsyncNATSResultStore):
    """Blocking twin of :class:`AsyncNATSResultStore`."""


__all__ = ["AsyncNATSResultStore", "NATSResultStore", "NATSResultStoreConfig"]
