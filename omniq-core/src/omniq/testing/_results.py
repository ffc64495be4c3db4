"""``ResultStoreTests``: the result-store contract (``omniq/storage/_results.py``): set, get,
wait (push or poll) with a timeout, ttl expiry, schedule results, delete and purge, and that a
store hands back exactly the signed bytes it was given.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import anyio
import pytest

from .._ids import new_id
from ..exceptions import SerializationError, TaskTimeoutError
from ..models import ErrorInfo, TaskResult, TaskStatus
from ..serialization import Keyring, Serializer
from ._support import KitBase, eventually, moment


def result(value: Any = None, *, task_id: str | None = None, ttl: float | None = None,
           schedule_id: str | None = None, finished_at: datetime | None = None,
           status: TaskStatus = TaskStatus.COMPLETED, error: ErrorInfo | None = None
           ) -> TaskResult:
    finished_at = finished_at or moment()
    return TaskResult(
        task_id=task_id or new_id(), status=status, result=value, error=error, attempts=1,
        started_at=finished_at - timedelta(seconds=1), finished_at=finished_at,
        expires_at=finished_at + timedelta(seconds=ttl) if ttl is not None else None,
        schedule_id=schedule_id, worker_id="kit-worker",
    )


class ResultStoreTests(KitBase):
    """The result store contract (fixture: ``result_store``)."""

    @pytest.mark.anyio
    async def test_set_then_get_round_trips_the_result(self, result_store: Any) -> None:
        values = [None, 42, "text", [1, 2, {"a": b"bytes"}], {"nested": {"x": [1.5, None]}},
                  Decimal("1.10"), datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC), (1, "tuple")]
        stored = []
        for value in values:
            r = result(value, ttl=600)
            await result_store.set(r)
            stored.append(r)
        for r, value in zip(stored, values, strict=True):
            got = await result_store.get(r.task_id)
            assert got is not None
            assert got.result == value and type(got.result) is type(value)
            for field in ("task_id", "status", "attempts", "started_at", "finished_at",
                          "expires_at", "schedule_id", "worker_id"):
                assert getattr(got, field) == getattr(r, field), field

    @pytest.mark.anyio
    async def test_failed_result_keeps_the_error(self, result_store: Any) -> None:
        error = ErrorInfo("ValueError", "bad input", "Traceback (most recent call last): ...")
        r = result(status=TaskStatus.FAILED, error=error)
        await result_store.set(r)
        got = await result_store.get(r.task_id)
        assert got.status == TaskStatus.FAILED and got.error == error and not got.ok

    @pytest.mark.anyio
    async def test_set_overwrites(self, result_store: Any) -> None:
        r = result("first")
        await result_store.set(r)
        await result_store.set(result("second", task_id=r.task_id))
        assert (await result_store.get(r.task_id)).result == "second"

    @pytest.mark.anyio
    async def test_set_many(self, result_store: Any) -> None:
        batch = [result(i) for i in range(50)]
        await result_store.set_many(batch)
        for r in batch:
            assert (await result_store.get(r.task_id)).result == r.result

    @pytest.mark.anyio
    async def test_get_of_unknown_task_is_none(self, result_store: Any) -> None:
        assert await result_store.get("no-such-task") is None
        assert await result_store.value("no-such-task") is None

    @pytest.mark.anyio
    async def test_a_result_signed_with_another_key_is_refused(self, result_store: Any) -> None:
        foreign = Serializer(Keyring.from_secrets(["another-secret"]))
        r = result({"evil": True})
        original, result_store.serializer = result_store.serializer, foreign
        try:
            blob = result_store.encode(r)
        finally:
            result_store.serializer = original
        await result_store.put_blob(r.task_id, blob, expires_at=None, schedule_id=None,
                                    finished_at=r.finished_at)
        with pytest.raises(SerializationError):
            await result_store.get(r.task_id)

    # -- waiting -------------------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_wait_returns_a_result_that_exists(self, result_store: Any) -> None:
        r = result("ready")
        await result_store.set(r)
        with anyio.fail_after(5):
            assert (await result_store.wait(r.task_id, timeout=2)).result == "ready"

    @pytest.mark.anyio
    async def test_wait_returns_when_the_result_arrives(self, result_store: Any) -> None:
        r = result("later")
        got: list[TaskResult] = []

        async def waiter() -> None:
            got.append(await result_store.wait(r.task_id, timeout=10, poll_interval=0.02))

        with anyio.fail_after(8):
            async with anyio.create_task_group() as tg:
                tg.start_soon(waiter)
                await anyio.sleep(0.05)  # let the waiter block first
                await result_store.set(r)
        assert got[0].result == "later"

    @pytest.mark.anyio
    async def test_wait_times_out(self, result_store: Any) -> None:
        started = anyio.current_time()
        with anyio.fail_after(10), pytest.raises(TaskTimeoutError):
            await result_store.wait("no-such-task", timeout=0.3, poll_interval=0.02)
        assert anyio.current_time() - started >= 0.25
        with pytest.raises(TimeoutError):
            await result_store.wait("no-such-task", timeout=0.05)

    # -- expiry --------------------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_an_expired_result_is_gone(self, result_store: Any) -> None:
        past = moment() - timedelta(seconds=10)
        old = result("old", finished_at=past, ttl=1)
        await result_store.set(old)
        assert await result_store.get(old.task_id) is None

    @pytest.mark.anyio
    async def test_a_result_expires_after_its_ttl(self, result_store: Any) -> None:
        r = result("short-lived", ttl=1.0)
        keep = result("kept")
        await result_store.set(r)
        await result_store.set(keep)
        assert (await result_store.get(r.task_id)).result == "short-lived"

        async def gone() -> bool:
            # The store itself hands out no expired blob (get_blob's contract), beside the
            # core, which checks the expiry again when it decodes one.
            return await result_store.get_blob(r.task_id) is None

        await eventually(gone, timeout=10, interval=0.1,
                         what="get_blob to return None once the result expired")
        assert await result_store.get(r.task_id) is None
        assert (await result_store.get(keep.task_id)).result == "kept"

    @pytest.mark.anyio
    async def test_purge_removes_expired_results_only(self, result_store: Any) -> None:
        now = moment()
        expired = [result(i, finished_at=now - timedelta(seconds=30), ttl=5) for i in range(3)]
        fresh = result("fresh", ttl=600)
        forever = result("forever")
        for r in (*expired, fresh, forever):
            await result_store.set(r)
        removed = await result_store.purge(now)
        assert removed in (0, 3)  # 0: the engine expires results natively
        for r in expired:
            assert await result_store.get(r.task_id) is None
        assert (await result_store.get(fresh.task_id)).result == "fresh"
        assert (await result_store.get(forever.task_id)).result == "forever"

    # -- schedules -----------------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_schedule_results_latest_and_all(self, result_store: Any) -> None:
        sid, now = new_id(), moment()
        runs = [result(i, schedule_id=sid, finished_at=now + timedelta(seconds=i), ttl=600)
                for i in range(4)]
        for r in (runs[2], runs[0], runs[3], runs[1]):
            await result_store.set(r)
        await result_store.set(result("other", schedule_id=new_id()))
        await result_store.set(result("expired", schedule_id=sid, ttl=1,
                                      finished_at=now - timedelta(seconds=60)))
        latest = await result_store.get_schedule_results(sid, "latest")
        assert latest is not None and latest.result == 3
        everything = await result_store.get_schedule_results(sid, "all")
        assert [r.result for r in everything] == [0, 1, 2, 3]
        assert await result_store.get_schedule_results(new_id(), "latest") is None
        assert await result_store.get_schedule_results(new_id(), "all") == []

    # -- delete --------------------------------------------------------------------------------
    @pytest.mark.anyio
    async def test_delete(self, result_store: Any) -> None:
        sid = new_id()
        r = result("x", schedule_id=sid)
        await result_store.set(r)
        assert await result_store.delete(r.task_id)
        assert not await result_store.delete(r.task_id)
        assert await result_store.get(r.task_id) is None
        assert await result_store.get_schedule_results(sid, "all") == []
