"""The whole conformance kit (``omniq.testing``) on the ``redis`` backend.

Each test gets its own project name, so its keys (``omniq:{project}:*``) are its own on the
shared server; they are deleted afterwards (never FLUSHDB on a shared server).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from omniq.testing import ConformanceTests
from omniq_redis import AsyncRedisEventStore, AsyncRedisResultStore, AsyncRedisTaskQueue

pytestmark = pytest.mark.redis


async def drop_project_keys(url: str, project_name: str) -> int:
    """Delete every key of one project (SCAN + UNLINK, bounded to its prefix)."""
    client = aioredis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=f"omniq:{{{project_name}}}:*",
                                                   count=1000)]
        for start in range(0, len(keys), 1000):
            await client.unlink(*keys[start:start + 1000])
        return len(keys)
    finally:
        await client.aclose()


class TestRedisConformance(ConformanceTests):
    @pytest.fixture
    def backend_type(self) -> str:
        return "redis"

    @pytest.fixture
    async def backend_options(self, redis_url: str,
                              project_name: str) -> AsyncIterator[dict[str, Any]]:
        yield {"url": redis_url}
        await drop_project_keys(redis_url, project_name)

    @pytest.fixture
    async def task_queue(self, backend_options: dict[str, Any],
                         project_name: str) -> AsyncIterator[AsyncRedisTaskQueue]:
        async with AsyncRedisTaskQueue(project_name=project_name, **backend_options) as queue:
            yield queue

    @pytest.fixture
    async def result_store(self, backend_options: dict[str, Any],
                           project_name: str) -> AsyncIterator[AsyncRedisResultStore]:
        async with AsyncRedisResultStore(project_name=project_name,
                                           **backend_options) as store:
            yield store

    @pytest.fixture
    async def event_store(self, backend_options: dict[str, Any],
                          project_name: str) -> AsyncIterator[AsyncRedisEventStore]:
        async with AsyncRedisEventStore(project_name=project_name,
                                          **backend_options) as store:
            yield store
