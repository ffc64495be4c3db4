"""``WorkerRegistryTests``: the worker registry (``put_worker``, ``list_workers``,
``delete_workers``) rule by rule, and a real worker keeping its record up to date."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec
import pytest

from ..models import MinuteCount, WorkerInfo
from ..models._worker import RECENT_MINUTES
from . import _tasks
from ._support import KitBase, eventually, moment, running_worker

_replace = msgspec.structs.replace


def worker_info(worker_id: str, **fields: Any) -> WorkerInfo:
    now = moment()
    values: dict[str, Any] = {
        "id": worker_id, "host": "kit-host", "pid": 4242, "worker_type": "thread_pool",
        "concurrency": 8, "queues": ["high", "default"], "started_at": now - timedelta(minutes=5),
        "last_heartbeat": now, "heartbeat_interval": 2.5, "running": 3, "completed": 120,
        "failed": 2, "recent": [MinuteCount(minute=now.replace(second=0, microsecond=0),
                                            queue="high", completed=7, failed=1)]}
    values.update(fields)
    return WorkerInfo(**values)


class WorkerRegistryTests(KitBase):
    """Workers' records in the task queue's store (fixtures: ``task_queue``, ``omniq``)."""

    @pytest.mark.anyio
    async def test_put_worker_stores_the_whole_record(self, task_queue: Any) -> None:
        info = worker_info("host-a:101:abc")
        await task_queue.put_worker(info)
        [stored] = await task_queue.list_workers()
        assert stored == info  # every field, times as the same instants

    @pytest.mark.anyio
    async def test_put_worker_again_replaces_the_record(self, task_queue: Any) -> None:
        info = worker_info("w-1")
        await task_queue.put_worker(info)
        later = _replace(info, last_heartbeat=info.last_heartbeat + timedelta(seconds=5),
                         running=0, completed=121)
        await task_queue.put_worker(later)
        assert await task_queue.list_workers() == [later]

    @pytest.mark.anyio
    async def test_list_workers_is_ordered_by_id(self, task_queue: Any) -> None:
        assert await task_queue.list_workers() == []
        for worker_id in ("w-c", "w-a", "w-b"):
            await task_queue.put_worker(worker_info(worker_id))
        assert [w.id for w in await task_queue.list_workers()] == ["w-a", "w-b", "w-c"]

    @pytest.mark.anyio
    async def test_worker_ids_with_any_characters_round_trip(self, task_queue: Any) -> None:
        odd = ["host.example.com:77:x", "a/b c", "ünï-cødé", "x" * 150]
        for worker_id in odd:
            await task_queue.put_worker(worker_info(worker_id))
        assert sorted(w.id for w in await task_queue.list_workers()) == sorted(odd)
        assert await task_queue.delete_workers(odd) == len(odd)
        assert await task_queue.list_workers() == []

    @pytest.mark.anyio
    async def test_delete_workers_counts_those_that_existed(self, task_queue: Any) -> None:
        for worker_id in ("w-1", "w-2", "w-3"):
            await task_queue.put_worker(worker_info(worker_id))
        assert await task_queue.delete_workers(["w-1", "w-3", "no-such-worker"]) == 2
        assert [w.id for w in await task_queue.list_workers()] == ["w-2"]
        assert await task_queue.delete_workers(["w-1"]) == 0
        assert await task_queue.delete_workers([]) == 0

    @pytest.mark.anyio
    async def test_prune_removes_only_workers_silent_since_before(self,
                                                                  task_queue: Any) -> None:
        now = moment()
        await task_queue.put_worker(worker_info("old", last_heartbeat=now - timedelta(hours=2)))
        await task_queue.put_worker(worker_info("new", last_heartbeat=now))
        assert await task_queue.prune_workers(now - timedelta(hours=1)) == 1
        assert [w.id for w in await task_queue.list_workers()] == ["new"]

    @pytest.mark.anyio
    async def test_a_worker_registers_refreshes_counts_and_unregisters(
            self, omniq: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("OMNIQ_WORKER_HEARTBEAT", "0.2")
        async with running_worker(omniq, "async", queues=["high", "default"],
                                  max_workers=3) as worker:
            [info] = await omniq.list_workers()
            assert info.id == worker.worker_id and info.worker_type == "async"
            assert info.concurrency == 3 and info.queues == ["high", "default"]
            assert info.pid > 0 and info.host and info.alive
            assert info.started_at <= info.last_heartbeat
            ids = [await omniq.enqueue(_tasks.add, i, 1, queue_name="high") for i in range(3)]
            ids.append(await omniq.enqueue(_tasks.fail, "counted as failed"))
            for task_id in ids[:3]:
                await omniq.get_result(task_id, timeout=15)

            async def counted() -> WorkerInfo | None:
                [now] = await omniq.list_workers()
                return now if now.completed == 3 and now.failed == 1 else None

            latest = await eventually(counted, what="the worker's record to count 4 tasks")
            assert latest.last_heartbeat > info.last_heartbeat
            assert latest.finished_since(latest.started_at, "high") == (3, 0)
            assert latest.finished_since(latest.started_at, "default") == (0, 1)
        # A clean stop marks the record stopped; what it finished still counts until pruned.
        [stopped] = await omniq.list_workers()
        assert stopped.stopped_at is not None and not stopped.is_alive()
        assert (stopped.completed, stopped.failed) == (3, 1)
        assert await omniq.task_queue.prune_workers(stopped.started_at) == 0
        later = stopped.stopped_at + timedelta(minutes=RECENT_MINUTES)
        assert await omniq.task_queue.prune_workers(stopped.started_at, now=later) == 1
        assert await omniq.list_workers() == []

    @pytest.mark.anyio
    async def test_finished_tasks_are_counted_before_the_next_heartbeat(
            self, omniq: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        # `omniq status` right after a burst of work must show it, not zeros until a heartbeat.
        monkeypatch.setenv("OMNIQ_WORKER_HEARTBEAT", "60")
        async with running_worker(omniq, "async"):
            for i in range(2):
                await omniq.get_result(await omniq.enqueue(_tasks.add, i, 1), timeout=15)

            async def counted() -> WorkerInfo | None:
                [now] = await omniq.list_workers()
                return now if now.completed == 2 else None

            await eventually(counted, timeout=5, what="the record to count 2 tasks within 5 s")

    @pytest.mark.anyio
    async def test_a_record_not_refreshed_is_not_alive(self, task_queue: Any) -> None:
        now = moment()
        info = worker_info("w", heartbeat_interval=5.0, last_heartbeat=now - timedelta(seconds=16))
        assert not info.is_alive(now)
        assert info.is_alive(now - timedelta(seconds=2))
        await task_queue.put_worker(info)
        [stored] = await task_queue.list_workers()
        assert not stored.alive
