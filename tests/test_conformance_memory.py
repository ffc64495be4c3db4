"""The whole conformance kit (``omniq.testing``) on the in-process ``memory`` backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from omniq.queue.memory import AsyncMemoryTaskQueue
from omniq.storage.memory import AsyncMemoryEventStore, AsyncMemoryResultStore
from omniq.testing import ConformanceTests


class TestMemoryConformance(ConformanceTests):
    """Every contract of the kit on the memory backend."""

    @pytest.fixture
    def backend_type(self) -> str:
        return "memory"

    @pytest.fixture
    def backend_options(self) -> dict[str, Any]:
        return {}

    @pytest.fixture
    def store_scope(self) -> str:
        return "instance"  # each memory component keeps its own data

    @pytest.fixture
    async def task_queue(self, project_name: str) -> AsyncIterator[AsyncMemoryTaskQueue]:
        async with AsyncMemoryTaskQueue(project_name=project_name) as queue:
            yield queue

    @pytest.fixture
    async def result_store(self, project_name: str) -> AsyncIterator[AsyncMemoryResultStore]:
        async with AsyncMemoryResultStore(project_name=project_name) as store:
            yield store

    @pytest.fixture
    async def event_store(self, project_name: str) -> AsyncIterator[AsyncMemoryEventStore]:
        async with AsyncMemoryEventStore(project_name=project_name) as store:
            yield store
