"""The seeds' examples that use Redis, run as written (with short times) against the Redis
server: seed 003's ``RedisTaskQueue(host="localhost", port=6379)``, and the seed 001 / 004
examples with ``backend_type="redis"`` or the Redis components in place of the memory ones.

Each test uses its own project name (the seeds' ``"my_project"`` would share keys between
runs) and deletes its keys afterwards.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator

import anyio
import pytest
from omniq import AsyncOmniQ, OmniQ
from omniq.backend import RedisBackend
from omniq.queue import RedisTaskQueue
from omniq.storage import RedisEventStorage, RedisResultStorage
from omniq.workers import ThreadPoolWorker
from seed_tasks import (
    add_numbers,
    async_add_numbers,
    async_task,
    process_data,
    process_task,
    simple_task,
)

pytestmark = pytest.mark.redis


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def project(redis_url: str, project_name: str) -> Iterator[str]:
    """The test's project name; its keys are deleted afterwards."""
    yield project_name
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"omniq:{{{project_name}}}:*", count=1000))
    for start in range(0, len(keys), 1000):
        client.unlink(*keys[start:start + 1000])
    client.close()


def test_seed003_redis_task_queue(project: str) -> None:
    queue = RedisTaskQueue(host="localhost", port=6379, project_name=project)
    with OmniQ(project_name=project, task_queue=queue,
               result_store=RedisResultStorage(host="localhost", port=6379,
                                               project_name=project)) as omniq:
        omniq.start_worker()
        task_id_default = omniq.enqueue(simple_task, "Hello from default queue!")
        task_id_priority = omniq.enqueue(simple_task, "High priority task",
                                         queue_name="priority_queue")
        assert omniq.get_result(task_id_default, timeout=10) == "Hello from default queue!"
        assert omniq.get_task(task_id_priority).queue_name == "priority_queue"
        omniq.stop_worker()


@pytest.mark.anyio
async def test_seed001_basic_usage_async_on_redis(project: str) -> None:
    oq = AsyncOmniQ(
        project_name=project,
        task_queue=RedisTaskQueue(project_name=project, queues=["low", "medium", "high"]),
        result_store=RedisResultStorage(project_name=project),
        event_store=RedisEventStorage(project_name=project),
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
    with anyio.fail_after(10):
        while await oq.get_result(schedule_id=schedule_id, kind="latest") is None:
            await asyncio.sleep(0.05)
    assert await oq.get_result(schedule_id=schedule_id, kind="all") == ["Tom"]
    await oq.stop_worker()
    types = [e.type.value for e in await oq.get_events(task_id)]
    assert types[:1] == ["ENQUEUED"] and "COMPLETE" in types
    await oq.close()


def test_seed001_basic_usage_sync_with_backend_type(project: str) -> None:
    with OmniQ(project_name=project, backend_type="redis") as oq:
        oq.start_worker()
        task_id = oq.enqueue(simple_task, func_args=dict(name="Tom"),
                             run_in=dt.timedelta(seconds=0.1),
                             result_ttl=dt.timedelta(minutes=5))
        assert oq.get_result(task_id, timeout=10) == "Tom"
        schedule_id = oq.schedule(func=simple_task, func_args=dict(name="Tom"),
                                  interval=dt.timedelta(seconds=10))
        assert oq.get_schedule(schedule_id).interval == 10
        assert oq.pause_schedule(schedule_id) and oq.resume_schedule(schedule_id)
        oq.stop_worker()


def test_seed001_component_based_usage(project: str) -> None:
    queue = RedisTaskQueue(project_name=project, queues=["low", "medium", "high"])
    result_store = RedisResultStorage(project_name=project)
    worker = ThreadPoolWorker(queue=queue, result_store=result_store, max_workers=20)
    worker.start()
    task_id = queue.enqueue(func=simple_task, func_args=dict(name="Tom"), queue_name="low")
    assert worker.get_result(task_id, timeout=10) == "Tom"
    assert result_store.get(task_id).result == "Tom"
    worker.stop()
    queue.close()
    result_store.close()


def test_seed004_backend_class(project: str) -> None:
    backend = RedisBackend(project_name=project, host="localhost", port=6379)
    with OmniQ.from_backend(backend, worker_type="thread_pool",
                            worker_config={"max_workers": 2}) as oq:
        oq.start_worker()
        try:
            task_id = oq.enqueue(func=add_numbers, func_args={"x": 5, "y": 10})
            assert oq.get_result(task_id, timeout=10) == 15
            assert oq.get_task(task_id).status == "completed"
        finally:
            oq.stop_worker()


def test_seed004_asynchronous_usage(project: str) -> None:
    async def main() -> int:
        async with OmniQ(project_name=project, backend_type="redis") as oq:
            await oq.start_worker_async(worker_type="async", max_workers=2)
            try:
                task_id = await oq.enqueue_async(func=async_add_numbers,
                                                 func_args={"x": 5, "y": 10})
                return await oq.get_result_async(task_id, timeout=10)
            finally:
                await oq.stop_worker_async()

    assert asyncio.run(main()) == 15


def test_seed004_multiple_tasks_and_queues(project: str) -> None:
    with OmniQ(project_name=project, backend_type="redis",
               queues=["high", "medium", "low"]) as oq:
        oq.start_worker(worker_type="thread_pool", max_workers=4)
        try:
            task_ids = [oq.enqueue(func=process_data,
                                   func_args={"data_id": i, "processing_time": 0.05})
                        for i in range(5)]
            assert [oq.get_result(t, timeout=10) for t in task_ids] == \
                [f"Processed data {i}" for i in range(5)]
            ids = {q: oq.enqueue(func=process_task,
                                 func_args={"task_name": f"{q.title()} Priority", "priority": q},
                                 queue_name=q)
                   for q in ("high", "medium", "low")}
            assert oq.get_result(ids["high"], timeout=10) == \
                "Processed High Priority with priority high"
            assert oq.get_result(ids["low"], timeout=10) == \
                "Processed Low Priority with priority low"
        finally:
            oq.stop_worker()


def test_seed004_configuration_file(project: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text(f"""
project_name: {project}
task_queue:
  type: redis
  config:
    host: localhost
    port: 6379
    queues:
      - high
      - medium
      - low
result_store:
  type: redis
event_store:
  type: redis
worker:
  type: thread_pool
  config:
    max_workers: 4
""")
    with OmniQ.from_config_file("config.yaml") as oq:
        oq.start_worker()
        try:
            task_id = oq.enqueue(func=lambda: "Hello from configured OmniQ!", queue_name="high")
            assert oq.get_result(task_id, timeout=10) == "Hello from configured OmniQ!"
            assert oq.worker.worker_type == "thread_pool" and oq.worker.max_workers == 4
            assert oq.task_queue.queues[:3] == ["high", "medium", "low"]
        finally:
            oq.stop_worker()
