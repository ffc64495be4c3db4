"""``AsyncFileResultStore``: signed result blobs as files.

Layout under ``<location>/<project>/``: ``results/<task id>`` holds the blob with its expiry,
schedule and finish time (msgpack); ``results_expiry/<expiry>_<task id>`` lists expiring
results by time, so :meth:`purge_expired` reads only what has expired; and
``results_by_schedule/<schedule>/<finished>_<task id>`` lists a schedule's results in order.
Expiry is lazy (an expired result is invisible to reads) plus the purge workers run now and
then. Results need no conditional writes, so any fsspec store works (``gs://``, ``abfs://``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import anyio
import msgspec
from omniq.clock import utcnow
from omniq.contract import ResultRecord
from omniq.storage import AsyncResultStore
from omniq.sync import ResultStore

from ._config import _FileLocationConfig
from ._keys import micros, safe_name, tail
from ._located import FileLocated
from ._stores import Store

#: The longest pause between two looks of a result waiter on an object store (seconds).
REMOTE_POLL_MAX = 0.5
#: How many waits' pauses are remembered (a wait is a caller's waits for one result).
MAX_TRACKED_WAITS = 10_000


class _Stored(msgspec.Struct, array_like=True):
    blob: bytes
    expires_at: datetime | None
    schedule_id: str | None
    finished_at: datetime


_decode = msgspec.msgpack.Decoder(_Stored).decode
_encode = msgspec.msgpack.encode


class FileResultStoreConfig(_FileLocationConfig, kw_only=True):
    """Settings of :class:`FileResultStore`."""


class AsyncFileResultStore(FileLocated, AsyncResultStore):
    """Task results as files in a folder of any fsspec store.

    Args:
        project_name: Name of this project's folder under the location.
        url: The location as a URL (``file:///abs/dir``, ``memory://``, ``s3://bucket/p``,
            ``gs://...``, ``abfs://...``).
        base_dir: The location as a directory or URL; default: the ``FSSPEC_URI`` setting,
            else ``BASE_DIR``.
        storage_options: Passed to the fsspec filesystem.
        secret_key: Signing key.
    """

    config_class = FileResultStoreConfig

    async def _connect(self) -> None:
        await super()._connect()
        self._poll_delays: dict[str, float] = {}  # task id: the pause its waiter reached

    async def put_blob(self, task_id: str, blob: bytes, *, expires_at: datetime | None,
                       schedule_id: str | None, finished_at: datetime) -> None:
        await self._run(_put, [ResultRecord(task_id, blob, expires_at, schedule_id,
                                            finished_at)])

    async def put_blobs(self, records: Sequence[ResultRecord]) -> None:
        if records:
            await self._run_batch(_put, [ResultRecord(*r) for r in records])

    async def get_blob(self, task_id: str) -> bytes | None:
        return await self._run(_get, safe_name(task_id), utcnow())

    async def wait_blob(self, task_id: str, timeout: float, poll_interval: float) -> bytes | None:
        """Polls every ``poll_interval``; on an object store, where each look is a request,
        ever less often, up to :data:`REMOTE_POLL_MAX`, across the waits of one caller (many
        waiters polling fast would take the threads, and the store's answers, that this
        process's own worker needs). Always looks once, even with ``timeout=0`` (a read runs
        in a worker thread, which a zero timeout would otherwise cancel first)."""
        if self._store is None:
            await self.connect()
        remote = self._store is not None and self._store.parallel > 1
        delay = self._poll_delays.get(task_id, poll_interval) if remote else poll_interval
        blob = await self.get_blob(task_id) if delay <= poll_interval or timeout <= 0 else None
        if blob is None and timeout > 0:
            with anyio.move_on_after(timeout):
                while blob is None:
                    await anyio.sleep(min(delay, timeout))
                    blob = await self.get_blob(task_id)
                    if remote:
                        delay = min(delay * 1.5, max(poll_interval, REMOTE_POLL_MAX))
        if remote:
            if len(self._poll_delays) > MAX_TRACKED_WAITS:
                self._poll_delays.clear()  # waits given up long ago; the rest start over
            if blob is None:
                self._poll_delays[task_id] = delay
            else:
                self._poll_delays.pop(task_id, None)
        return blob

    async def schedule_blobs(self, schedule_id: str, *, latest_only: bool) -> list[bytes]:
        return await self._run(_schedule_blobs, safe_name(schedule_id), latest_only,
                               utcnow())

    async def delete_blob(self, task_id: str) -> bool:
        return await self._run(_delete, safe_name(task_id))

    async def purge_expired(self, now: datetime) -> int:
        return await self._run(_purge, now)


def _index_keys(name: str, stored: _Stored) -> list[str]:
    keys = []
    if stored.expires_at is not None:
        keys.append(f"results_expiry/{micros(stored.expires_at)}_{name}")
    if stored.schedule_id is not None:
        keys.append(f"results_by_schedule/{safe_name(stored.schedule_id)}/"
                    f"{micros(stored.finished_at)}_{name}")
    return keys


def _read(store: Store, name: str) -> _Stored | None:
    got = store.read(f"results/{name}")
    return None if got is None else _decode(got[0])


def _put(store: Store, records: list[ResultRecord]) -> list[None]:
    for record in records:
        name = safe_name(record.task_id)
        stored = _Stored(record.blob, record.expires_at, record.schedule_id,
                         record.finished_at)
        old = _read(store, name)
        for key in _index_keys(name, stored):  # entries first: a result is always findable
            store.create(key)
        store.put(f"results/{name}", _encode(stored))
        if old is not None:
            for key in set(_index_keys(name, old)) - set(_index_keys(name, stored)):
                store.delete(key)
    return []  # nothing to answer (a list, for _run_batch)


def _live(stored: _Stored | None, now: datetime) -> bool:
    return stored is not None and (stored.expires_at is None or stored.expires_at > now)


def _get(store: Store, name: str, now: datetime) -> bytes | None:
    stored = _read(store, name)
    return stored.blob if stored is not None and _live(stored, now) else None


def _schedule_blobs(store: Store, schedule: str, latest_only: bool, now: datetime
                    ) -> list[bytes]:
    found: list[tuple[datetime, str, bytes]] = []
    names = store.names(f"results_by_schedule/{schedule}")
    for entry in reversed(names) if latest_only else names:
        name = tail(entry, 2)
        stored = _read(store, name)
        if stored is None or not _live(stored, now):
            continue
        found.append((stored.finished_at, name, stored.blob))
        if latest_only:
            break
    return [blob for _, _, blob in sorted(found, key=lambda f: (f[0], f[1]))]


def _delete(store: Store, name: str) -> bool:
    stored = _read(store, name)
    existed = store.delete(f"results/{name}")
    if stored is not None:
        for key in _index_keys(name, stored):
            store.delete(key)
    return existed


def _purge(store: Store, now: datetime) -> int:
    removed = 0
    cutoff = micros(now)
    for entry in store.names("results_expiry"):
        if entry[:20] > cutoff:
            break
        name = tail(entry, 2)
        stored = _read(store, name)
        if stored is not None and not _live(stored, now):
            removed += _delete(store, name)
        elif stored is None or f"results_expiry/{entry}" not in _index_keys(name, stored):
            store.delete(f"results_expiry/{entry}")  # left by an overwritten result
    return removed


class FileResultStore(ResultStore, twin_of=AsyncFileResultStore):
    """Blocking twin of :class:`AsyncFileResultStore`."""


__all__ = ["AsyncFileResultStore", "FileResultStore", "FileResultStoreConfig"]


