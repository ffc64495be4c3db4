"""Every way of building OmniQ and its components that the seeds show (on memory)."""

from __future__ import annotations

import logging

import anyio
import pytest
from omniq import (
    AsyncOmniQ,
    BackendUnavailableError,
    EventStore,
    OmniQ,
    ResultStore,
    TaskQueue,
)
from omniq.backend import MemoryBackend
from omniq.exceptions import ConfigError
from omniq.models import MemoryTaskQueueConfig, OmniQConfig, TaskQueueConfig
from omniq.queue import MemoryTaskQueue
from omniq.queue.memory import AsyncMemoryTaskQueue
from seed_tasks import add_numbers


def test_component_from_config_struct_dict_and_file(tmp_path) -> None:
    queue = MemoryTaskQueue.from_config(
        MemoryTaskQueueConfig(project_name="my_project", queues=["high", "medium", "low"]))
    assert queue.project_name == "my_project" and queue.queues[:3] == ["high", "medium", "low"]
    queue = MemoryTaskQueue.from_dict({"project_name": "p2", "queues": ["a"]})
    assert queue.queues == ["a", "default"]
    path = tmp_path / "queue.yaml"
    path.write_text("type: memory\nconfig:\n  project_name: p3\n  queues: [x, y]\n")
    assert MemoryTaskQueue.from_config_file(path).queues == ["x", "y", "default"]


def test_omniq_from_config_object_dict_and_env(monkeypatch) -> None:
    oq = OmniQ.from_config(OmniQConfig(
        project_name="my_project",
        task_queue=TaskQueueConfig(type="memory", config={"queues": ["high", "medium", "low"]})))
    assert oq.project_name == "my_project"
    assert oq.task_queue.queues == ["high", "medium", "low", "default"]
    oq = OmniQ.from_config_dict({"project_name": "my_project",
                                 "task_queue": {"type": "memory",
                                                "config": {"queues": ["high", "low"]}}})
    assert oq.task_queue.queues == ["high", "low", "default"]
    monkeypatch.setenv("OMNIQ_PROJECT_NAME", "from_env")
    monkeypatch.setenv("OMNIQ_TASK_QUEUE_TYPE", "memory")
    monkeypatch.setenv("OMNIQ_TASK_QUEUE_CONFIG_QUEUES", "high,medium,low")
    oq = OmniQ.from_env()
    assert oq.project_name == "from_env"
    assert oq.task_queue.queues == ["high", "medium", "low", "default"]


def test_backend_type_gives_its_engine_to_components_given_only_options(
        tmp_path, monkeypatch) -> None:
    # OMNIQ_BACKEND_TYPE beside OMNIQ_TASK_QUEUE_CONFIG_*: "needs a type or a url" before.
    monkeypatch.setenv("OMNIQ_BACKEND_TYPE", "sqlite")
    monkeypatch.setenv("OMNIQ_TASK_QUEUE_CONFIG_BASE_DIR", str(tmp_path / "tasks"))
    with OmniQ.from_env(project_name="typed") as oq:
        assert str(tmp_path / "tasks" / "typed.db") in repr(oq.task_queue)
        assert str(tmp_path / "tasks" / "typed.db") in repr(oq.result_store)
    config = {"backend_type": "sqlite", "result_store": {"config": {"base_dir": str(tmp_path)}}}
    with OmniQ.from_dict(config, project_name="typed") as oq:
        assert f"{tmp_path}/typed.db" in repr(oq.result_store)
    # With no type anywhere, the options would be dropped without a word.
    with pytest.raises(ConfigError, match="result_store has options but no type; field "
                                          "'result_store.config' = \\['base_dir'\\]"):
        OmniQ.from_dict({"task_queue": "sqlite", "result_store": {"config": {"base_dir": "x"}}})


def test_from_config_file_with_overrides(tmp_path) -> None:
    path = tmp_path / "omniq.yaml"
    path.write_text("project_name: filed\ntask_queue:\n  type: memory\n")
    oq = OmniQ.from_config_file(path, worker_type="thread_pool", worker_config={"max_workers": 4})
    with oq:
        oq.start_worker()
        try:
            assert oq.worker.worker_type == "thread_pool" and oq.worker.max_workers == 4
            assert oq.get_result(oq.enqueue(add_numbers, 2, 3), timeout=10) == 5
        finally:
            oq.stop_worker()


def test_from_backend_and_components_from_backends() -> None:
    backend = MemoryBackend(project_name="my_project")
    backend.initialize()
    oq = OmniQ.from_backend(backend, worker_type="thread_pool",
                            worker_config={"max_workers": 10}, queues=["high", "medium", "low"])
    with oq:
        oq.start_worker()
        try:
            assert oq.get_result(oq.enqueue(add_numbers, 1, 1, queue_name="high"),
                                 timeout=10) == 2
            assert oq.worker.max_workers == 10
        finally:
            oq.stop_worker()
    other = MemoryBackend(project_name="my_project")
    oq = OmniQ.from_backend(backend=backend, result_store_backend=other,
                            event_store_backend=other, worker_type="async")
    assert oq.event_store is not None
    task_queue = TaskQueue.from_backend(backend, queues=["high", "medium", "low"])
    assert type(task_queue).__name__ == "MemoryTaskQueue"
    assert task_queue.queues[:3] == ["high", "medium", "low"]
    assert type(ResultStore.from_backend(backend)).__name__ == "MemoryResultStore"
    assert type(EventStore.from_backend(backend)).__name__ == "MemoryEventStore"


def test_events_are_off_without_an_event_store() -> None:
    with OmniQ(project_name="quiet", backend_type="memory") as oq:
        assert oq.event_store is None and not oq.events.enabled
        oq.start_worker()
        try:
            task_id = oq.enqueue(add_numbers, 1, 2)
            assert oq.get_result(task_id, timeout=10) == 3
            assert oq.get_events(task_id) == []
        finally:
            oq.stop_worker()


class FlakyStore(AsyncMemoryTaskQueue):
    """A memory queue whose claims fail while ``down`` is set (an outage of the store)."""

    down = True
    failures = 0

    async def claim(self, *args, **kwargs):
        if self.down:
            self.failures += 1
            raise BackendUnavailableError("store unreachable")
        return await super().claim(*args, **kwargs)


@pytest.mark.anyio
async def test_worker_backs_off_while_store_is_down_and_recovers(caplog) -> None:
    queue = FlakyStore(project_name="flaky")
    caplog.set_level(logging.WARNING, logger="omniq.worker")
    async with AsyncOmniQ(project_name="flaky", task_queue=queue) as oq:
        await oq.start_worker(worker_type="async")
        task_id = await oq.enqueue(add_numbers, 20, 22)
        await anyio.sleep(1.0)
        # Exponential backoff: a handful of attempts in a second, not a spin.
        assert 2 <= queue.failures <= 12
        queue.down = False
        assert await oq.get_result(task_id, timeout=10) == 42
        await oq.stop_worker()
    messages = [r.getMessage() for r in caplog.records]
    assert sum("store unavailable" in m for m in messages) == 1  # once per state change
    assert sum("reachable again" in m for m in messages) == 1
