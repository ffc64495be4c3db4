"""The whole conformance kit (``omniq.testing``) on the ``redis`` backend.

Each test gets its own project name, so its keys (``omniq:{project}:*``) are its own on the
shared server; they are deleted afterwards (never FLUSHDB on a shared server).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from omniq import AsyncOmniQ
from omniq.testing import ConformanceTests
from omniq_redis import AsyncRedisEventStorage, AsyncRedisResultStorage, AsyncRedisTaskQueue

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


@pytest.fixture
async def _clean_keys(redis_url: str, project_name: str) -> AsyncIterator[None]:
    yield
    await drop_project_keys(redis_url, project_name)


@pytest.fixture
async def task_queue(redis_url: str, project_name: str,
                     _clean_keys: None) -> AsyncIterator[AsyncRedisTaskQueue]:
    async with AsyncRedisTaskQueue(project_name=project_name, url=redis_url) as queue:
        yield queue


@pytest.fixture
async def result_store(redis_url: str, project_name: str,
                       _clean_keys: None) -> AsyncIterator[AsyncRedisResultStorage]:
    async with AsyncRedisResultStorage(project_name=project_name, url=redis_url) as store:
        yield store


@pytest.fixture
async def event_store(redis_url: str, project_name: str,
                      _clean_keys: None) -> AsyncIterator[AsyncRedisEventStorage]:
    async with AsyncRedisEventStorage(project_name=project_name, url=redis_url) as store:
        yield store


@pytest.fixture
async def omniq(project_name: str, task_queue: AsyncRedisTaskQueue,
               result_store: AsyncRedisResultStorage,
               event_store: AsyncRedisEventStorage) -> AsyncIterator[AsyncOmniQ]:
    async with AsyncOmniQ(project_name=project_name, task_queue=task_queue,
                          result_store=result_store, event_store=event_store) as oq:
        yield oq


class TestRedisConformance(ConformanceTests):
    pass
