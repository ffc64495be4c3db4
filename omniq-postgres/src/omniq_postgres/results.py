"""``AsyncPostgresResultStore``: task results in PostgreSQL.

A batch of results is one upsert that also NOTIFYs the ids written (small results ride along),
so ``wait`` (and so ``get_result``) blocks on LISTEN instead of polling.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from omniq.clock import to_epoch as epoch
from omniq.storage import AsyncResultStore
from omniq.sync import ResultStore

from ._base import PostgresComponent
from ._config import PostgresResultStoreConfig
from ._wakeups import ResultWaiters

_PAYLOAD_MAX = 7000  # bytes per NOTIFY payload (the server's limit is 8000)
_INLINE_MAX, _INLINE_BATCH = 2048, 16  # results sent along with their NOTIFY: small ones, few
_RECHECK = 5.0  # seconds: a waiter also looks again this often, should a NOTIFY be missed
_SAFE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,200}\Z")  # no separator of the payload format


def _payloads(rows: Sequence[tuple[str, bytes, Any, Any, Any]]) -> list[str]:
    """NOTIFY payloads for these results: ``id[ base64]`` entries joined by commas, in chunks
    under the size limit. Ids that could not be parsed back are left to the waiters' recheck."""
    inline = len(rows) <= _INLINE_BATCH
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for task_id, blob, *_ in rows:
        if not _SAFE_ID.match(task_id):
            continue
        entry = task_id
        if inline and len(blob) <= _INLINE_MAX:
            entry += " " + base64.b64encode(blob).decode()
        if size + len(entry) + 1 > _PAYLOAD_MAX:
            chunks.append(",".join(current))
            current, size = [], 0
        current.append(entry)
        size += len(entry) + 1
    if current:
        chunks.append(",".join(current))
    return chunks


class AsyncPostgresResultStore(PostgresComponent, AsyncResultStore):
    """Results in PostgreSQL, in the schema ``omniq_<project_name>``, with the connection
    arguments of :class:`~omniq_postgres.AsyncPostgresTaskQueue`. Expired results are hidden at
    once and deleted by ``purge``."""

    config_class = PostgresResultStoreConfig
    statement_files = ("results.sql",)
    component = "results"

    def _init_connection(self, **connection: Any) -> None:
        # Called by PostgresComponent.__init__, the constructor of this store.
        super()._init_connection(**connection)
        self._waiters = ResultWaiters()

    async def put_blob(self, task_id: str, blob: bytes, *, expires_at: datetime | None,
                       schedule_id: str | None, finished_at: datetime) -> None:
        await self.put_blobs([(task_id, blob, expires_at, schedule_id, finished_at)])

    async def put_blobs(self, items: Sequence[tuple[str, bytes, datetime | None, str | None,
                                                    datetime]]) -> None:
        if not items:
            return
        latest = {item[0]: item for item in items}  # an upsert may touch a row only once
        rows = list(latest.values())
        await (await self._db()).fetchval(
            self.sql["put_results"], self.project_name, [r[0] for r in rows], [r[1] for r in rows],
            [epoch(r[2]) for r in rows], [r[3] for r in rows], [epoch(r[4]) for r in rows],
            self._channel("r"), _payloads(rows))

    async def get_blob(self, task_id: str) -> bytes | None:
        blob: bytes | None = await (await self._db()).fetchval(
            self.sql["get_result"], self.project_name, task_id, time.time())
        return blob

    async def wait_blob(self, task_id: str, timeout: float, poll_interval: float) -> bytes | None:
        """Wait on NOTIFY for the result (``poll_interval`` is not needed here)."""
        await self._listen("r", self._waiters)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        waiter = self._waiters.add(task_id)
        try:
            while True:
                waiter.event.clear()  # before looking: a NOTIFY from now on is not missed
                blob = waiter.blob or await self.get_blob(task_id)
                remaining = deadline - loop.time()
                if blob is not None or remaining <= 0:
                    return blob
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter.event.wait(), min(remaining, _RECHECK))
        finally:
            self._waiters.remove(waiter, task_id)

    async def schedule_blobs(self, schedule_id: str, *, latest_only: bool) -> list[bytes]:
        sql = self.sql["latest_schedule_result" if latest_only else "schedule_results"]
        rows = await (await self._db()).fetch(sql, self.project_name, schedule_id,
                                              time.time())
        return [r[0] for r in rows]

    async def delete_blob(self, task_id: str) -> bool:
        status = await (await self._db()).execute(self.sql["delete_result"],
                                                  self.project_name, task_id)
        return status == "DELETE 1"

    async def purge_expired(self, now: datetime) -> int:
        status = await (await self._db()).execute(self.sql["purge_results"],
                                                  self.project_name, now.timestamp())
        return int(status.rsplit(" ", 1)[1])


class PostgresResultStore(ResultStore, twin_of=AsyncPostgresResultStore):
    """Blocking twin of :class:`AsyncPostgresResultStore`."""


__all__ = ["AsyncPostgresResultStore", "PostgresResultStore", "PostgresResultStoreConfig"]
