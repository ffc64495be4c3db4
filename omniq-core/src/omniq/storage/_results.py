"""Result stores: encoding, signing and verifying, written once over the blobs of
:class:`omniq.contract.ResultStoreContract`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import msgspec

from .._component import AsyncComponent
from .._time import utcnow
from ..contract import ResultRecord, ResultStoreContract
from ..exceptions import TaskNotFoundError, TaskTimeoutError
from ..models import TaskResult

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(TaskResult)


class AsyncResultStore(AsyncComponent, ResultStoreContract):
    """Stores task results; independent of the task queue (any engine may hold them)."""

    kind = "result_store"

    def encode(self, result: TaskResult) -> bytes:
        """Sign the value (dill-able) and pack the rest as plain data."""
        value = msgspec.structs.replace(result, result=self.serializer.dump_value(result.result))
        return _encoder.encode(value)

    def record(self, result: TaskResult) -> ResultRecord:
        """``result`` as this store keeps it (signed and encoded), for any engine to write."""
        return ResultRecord(result.task_id, self.encode(result), result.expires_at,
                            result.schedule_id, result.finished_at)

    def decode(self, blob: bytes) -> TaskResult:
        stored = _decoder.decode(blob)
        stored.result = self.serializer.load_value(stored.result)
        return stored

    def _unexpired(self, blob: bytes | None) -> TaskResult | None:
        """``blob`` decoded, or None when there is none or it is past its ``expires_at``: an
        engine may hand out a result a moment after its expiry (a cache, a pending purge), and
        a caller must never see one."""
        if blob is None:
            return None
        result = self.decode(blob)
        if result.expires_at is not None and result.expires_at <= utcnow():
            return None
        return result

    async def set(self, result: TaskResult) -> None:
        """Store a result (the worker calls this)."""
        await self.connect()
        await self.put_blob(result.task_id, self.encode(result), expires_at=result.expires_at,
                            schedule_id=result.schedule_id, finished_at=result.finished_at)

    async def set_many(self, results: Sequence[TaskResult]) -> None:
        await self.connect()
        await self.put_blobs([self.record(r) for r in results])

    async def get(self, task_id: str) -> TaskResult | None:
        """The result of ``task_id``, or None if it has none (yet, or any more)."""
        await self.connect()
        return self._unexpired(await self.get_blob(task_id))

    async def wait(self, task_id: str, timeout: float | None = None,
                   poll_interval: float = 0.05) -> TaskResult:
        """Wait for the result of ``task_id``; raises ``TaskTimeoutError`` after ``timeout``."""
        await self.connect()
        result = self._unexpired(await self.wait_blob(
            task_id, float("inf") if timeout is None else timeout, poll_interval))
        if result is None:
            raise TaskTimeoutError(f"no result for task {task_id} within {timeout} s")
        return result

    async def get_schedule_results(
        self, schedule_id: str, kind: Literal["latest", "all"] = "latest"
    ) -> TaskResult | list[TaskResult] | None:
        await self.connect()
        blobs = await self.schedule_blobs(schedule_id, latest_only=kind == "latest")
        results = [r for r in map(self._unexpired, blobs) if r is not None]
        if kind == "latest":
            return results[-1] if results else None
        return results

    async def delete(self, task_id: str) -> bool:
        await self.connect()
        return await self.delete_blob(task_id)

    async def purge(self, now: datetime | None = None) -> int:
        await self.connect()
        return await self.purge_expired(now or utcnow())

    async def require(self, task_id: str) -> TaskResult:
        result = await self.get(task_id)
        if result is None:
            raise TaskNotFoundError(f"no result for task {task_id!r}")
        return result

    async def value(self, task_id: str) -> Any:
        """Just the value of a finished task (None if it has no result yet)."""
        result = await self.get(task_id)
        return None if result is None else result.result
