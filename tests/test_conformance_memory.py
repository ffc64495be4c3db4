"""The whole conformance kit (``omniq.testing``) on the in-process ``memory`` backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from omniq import AsyncOmniQ
from omniq.queue.memory import AsyncMemoryTaskQueue
from omniq.storage.memory import AsyncMemoryEventStorage, AsyncMemoryResultStorage
from omniq.testing import ConformanceTests


@pytest.fixture
async def task_queue(project_name: str) -> AsyncIterator[AsyncMemoryTaskQueue]:
    async with AsyncMemoryTaskQueue(project_name=project_name) as queue:
        yield queue


@pytest.fixture
async def result_store(project_name: str) -> AsyncIterator[AsyncMemoryResultStorage]:
    async with AsyncMemoryResultStorage(project_name=project_name) as store:
        yield store


@pytest.fixture
async def event_store(project_name: str) -> AsyncIterator[AsyncMemoryEventStorage]:
    async with AsyncMemoryEventStorage(project_name=project_name) as store:
        yield store


@pytest.fixture
async def omniq(project_name: str, task_queue: AsyncMemoryTaskQueue,
                result_store: AsyncMemoryResultStorage,
                event_store: AsyncMemoryEventStorage) -> AsyncIterator[AsyncOmniQ]:
    async with AsyncOmniQ(project_name=project_name, task_queue=task_queue,
                          result_store=result_store, event_store=event_store) as oq:
        yield oq


class TestMemoryConformance(ConformanceTests):
    """Every contract of the kit on the memory backend."""
