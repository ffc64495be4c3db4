"""The seeds' basic examples, run as written but on the memory backend, with short times.

Seed 001 "Basic Usage" (async and sync) and seed 004 "Quick Start" (Basic Setup, Asynchronous
Usage, Multiple Tasks, Multiple Queues, Configuration).
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from omniq import AsyncOmniQ, OmniQ
from omniq.queue import MemoryTaskQueue
from omniq.storage import MemoryEventStorage, MemoryResultStorage
from omniq.workers import AsyncWorker, ThreadPoolWorker
from seed_tasks import (
    add_numbers,
    async_add_numbers,
    async_task,
    async_xy,
    process_data,
    process_task,
    simple_task,
    sync_task,
)


@pytest.mark.anyio
async def test_seed001_basic_usage_async() -> None:
    oq = AsyncOmniQ(
        project_name="my_project",
        task_queue=MemoryTaskQueue(queues=["low", "medium", "high"]),
        result_store=MemoryResultStorage(),
        event_store=MemoryEventStorage(),
    )
    await oq.start_worker()
    task_id = await oq.enqueue(
        func=async_task,
        func_args=dict(name="Tom"),
        queue_name="low",
        run_in=dt.timedelta(seconds=0.1),
        ttl=dt.timedelta(hours=1),
        result_ttl=dt.timedelta(minutes=5),
    )
    assert await oq.get_result(task_id, timeout=10) == "Tom"
    schedule_id = await oq.schedule(
        func=async_task, func_args=dict(name="Tom"), interval=dt.timedelta(seconds=10),
        queue_name="low",
    )
    with anyio_fail_after(10):
        while await oq.get_result(schedule_id=schedule_id, kind="latest") is None:
            await asyncio.sleep(0.05)
    assert await oq.get_result(schedule_id=schedule_id, kind="latest") == "Tom"
    await oq.stop_worker()
    events = await oq.get_events(task_id)
    assert [e.type.value for e in events][:1] == ["ENQUEUED"]
    assert "COMPLETE" in [e.type.value for e in events]

    async with AsyncOmniQ(project_name="my_project", backend_type="memory") as oq:
        await oq.start_worker()
        task_id = await oq.enqueue(async_task, func_args=dict(name="Tom"))
        assert await oq.get_result(task_id, timeout=10) == "Tom"


def anyio_fail_after(seconds: float):
    import anyio

    return anyio.fail_after(seconds)


def test_seed001_basic_usage_sync() -> None:
    oq = OmniQ(
        project_name="my_project",
        task_queue=MemoryTaskQueue(queues=["low", "medium", "high"]),
        result_store=MemoryResultStorage(),
        event_store=MemoryEventStorage(),
    )
    oq.start_worker()
    task_id = oq.enqueue(
        func=simple_task,
        func_args=dict(name="Tom"),
        queue_name="low",
        run_in=dt.timedelta(seconds=0.1),
        ttl=dt.timedelta(hours=1),
        result_ttl=dt.timedelta(minutes=5),
    )
    assert oq.get_result(task_id, timeout=10) == "Tom"
    schedule_id = oq.schedule(func=simple_task, func_args=dict(name="Tom"),
                              interval=dt.timedelta(seconds=10), queue_name="low")
    assert oq.get_schedule(schedule_id).interval == 10
    oq.stop_worker()
    oq.close()

    with OmniQ(project_name="my_project", backend_type="memory") as oq:
        oq.start_worker()
        task_id = oq.enqueue(simple_task, func_args=dict(name="Tom"))
        assert oq.get_result(task_id, timeout=10) == "Tom"
        oq.stop_worker()


def test_seed001_component_based_usage() -> None:
    queue = MemoryTaskQueue(project_name="my_project", queues=["low", "medium", "high"])
    result_store = MemoryResultStorage(project_name="my_project")
    worker = ThreadPoolWorker(queue=queue, result_store=result_store, max_workers=20)
    worker.start()
    task_id = queue.enqueue(func=simple_task, func_args=dict(name="Tom"), queue_name="low")
    assert worker.get_result(task_id, timeout=10) == "Tom"
    assert result_store.get(task_id).result == "Tom"
    worker.stop()

    with MemoryTaskQueue(project_name="my_project") as queue, \
            MemoryResultStorage(project_name="my_project") as result_store, \
            ThreadPoolWorker(queue=queue, result_store=result_store) as worker:
        task_id = queue.enqueue(simple_task, func_args=dict(name="Tom"))
        assert result_store.wait(task_id, timeout=10).result == "Tom"


def test_seed001_sync_and_async_tasks_on_async_worker() -> None:
    queue = MemoryTaskQueue(project_name="my_project")
    worker = AsyncWorker(queue=queue, result_store=MemoryResultStorage(), max_workers=10)
    worker.start()
    sync_task_id = queue.enqueue(sync_task, func_args=dict(x=5, y=10))
    async_task_id = queue.enqueue(async_xy, func_args=dict(x=5, y=10))
    assert worker.get_result(sync_task_id, timeout=10) == 50
    assert worker.get_result(async_task_id, timeout=10) == 15
    worker.stop()


def test_seed004_basic_setup() -> None:
    with OmniQ(project_name="my_project", backend_type="memory") as oq:
        oq.start_worker(worker_type="thread_pool", max_workers=2)
        try:
            task_id = oq.enqueue(func=add_numbers, func_args={"x": 5, "y": 10})
            assert oq.get_result(task_id) == 15
            assert oq.get_result(task_id, timeout=10.0) == 15
            task = oq.get_task(task_id)
            assert task.id == task_id and task.status == "completed"
            assert task.func == "seed_tasks:add_numbers"
        finally:
            oq.stop_worker()


def test_seed004_asynchronous_usage() -> None:
    async def main() -> int:
        async with OmniQ(project_name="my_async_project", backend_type="memory") as oq:
            await oq.start_worker_async(worker_type="async", max_workers=2)
            try:
                task_id = await oq.enqueue_async(func=async_add_numbers,
                                                 func_args={"x": 5, "y": 10})
                return await oq.get_result_async(task_id)
            finally:
                await oq.stop_worker_async()

    assert asyncio.run(main()) == 15


def test_seed004_multiple_tasks() -> None:
    with OmniQ(project_name="multi_task_project", backend_type="memory") as oq:
        oq.start_worker(worker_type="thread_pool", max_workers=4)
        try:
            task_ids = [oq.enqueue(func=process_data,
                                   func_args={"data_id": i, "processing_time": 0.1})
                        for i in range(5)]
            results = [oq.get_result(task_id) for task_id in task_ids]
            assert results == [f"Processed data {i}" for i in range(5)]
        finally:
            oq.stop_worker()


def test_seed004_multiple_queues() -> None:
    with OmniQ(project_name="multi_queue_project", backend_type="memory",
               queues=["high", "medium", "low"]) as oq:
        oq.start_worker(worker_type="thread_pool", max_workers=2)
        try:
            ids = {q: oq.enqueue(func=process_task,
                                 func_args={"task_name": f"{q.title()} Priority", "priority": q},
                                 queue_name=q)
                   for q in ("high", "medium", "low")}
            assert oq.get_result(ids["high"]) == "Processed High Priority with priority high"
            assert oq.get_result(ids["low"]) == "Processed Low Priority with priority low"
        finally:
            oq.stop_worker()


def test_seed004_configuration_file(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    config_content = """
project_name: config_example
task_queue:
  type: memory
  config:
    queues:
      - high
      - medium
      - low
result_store:
  type: memory
event_store:
  type: memory
worker:
  type: thread_pool
  config:
    max_workers: 4
"""
    with open("config.yaml", "w") as f:
        f.write(config_content)
    with OmniQ.from_config_file("config.yaml") as oq:
        oq.start_worker()
        try:
            task_id = oq.enqueue(func=lambda: "Hello from configured OmniQ!", queue_name="high")
            assert oq.get_result(task_id, timeout=10) == "Hello from configured OmniQ!"
            assert oq.worker.worker_type == "thread_pool" and oq.worker.max_workers == 4
            assert oq.task_queue.queues[:3] == ["high", "medium", "low"]
        finally:
            oq.stop_worker()


def test_seed004_start_worker_with_worker_config() -> None:
    with OmniQ(project_name="my_project", backend_type="memory") as oq:
        oq.start_worker(worker_type="thread_pool", worker_config={"max_workers": 4})
        try:
            task_id = oq.enqueue(func=lambda: "Hello, World!")
            assert oq.get_result(task_id) == "Hello, World!"
            assert oq.worker.max_workers == 4
        finally:
            oq.stop_worker()
