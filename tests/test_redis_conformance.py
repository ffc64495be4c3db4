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


class RedisBackend:
    """The kit's fixtures for the redis backend (also used by other worker types' tests)."""

    @pytest.fixture
    def backend_type(self) -> str:
        return "redis"

    @pytest.fixture
    async def backend_options(self, redis_url: str,
                              project_name: str) -> AsyncIterator[dict[str, Any]]:
        yield {"url": redis_url}
        await drop_project_keys(redis_url, project_name)


class TestRedisConformance(RedisBackend, ConformanceTests):
    """Every contract of the kit on Redis."""
