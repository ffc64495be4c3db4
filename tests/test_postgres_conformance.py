"""The whole conformance kit (omniq.testing) on the PostgreSQL backend.

Each test gets its own project, so its own schema (``omniq_<project>``), dropped afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from omniq import AsyncOmniQ
from omniq.testing import ConformanceTests
from omniq_postgres import (
    AsyncPostgresEventStorage,
    AsyncPostgresResultStorage,
    AsyncPostgresTaskQueue,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
async def _schema(postgres_dsn: str, project_name: str) -> AsyncIterator[None]:
    yield
    conn = await asyncpg.connect(postgres_dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "omniq_{project_name}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
async def task_queue(_schema: None, postgres_dsn: str,
                     project_name: str) -> AsyncIterator[AsyncPostgresTaskQueue]:
    async with AsyncPostgresTaskQueue(project_name=project_name, url=postgres_dsn) as queue:
        yield queue


@pytest.fixture
async def result_store(_schema: None, postgres_dsn: str,
                       project_name: str) -> AsyncIterator[AsyncPostgresResultStorage]:
    async with AsyncPostgresResultStorage(project_name=project_name, url=postgres_dsn) as store:
        yield store


@pytest.fixture
async def event_store(_schema: None, postgres_dsn: str,
                      project_name: str) -> AsyncIterator[AsyncPostgresEventStorage]:
    async with AsyncPostgresEventStorage(project_name=project_name, url=postgres_dsn) as store:
        yield store


@pytest.fixture
async def omniq(project_name: str, task_queue: Any, result_store: Any,
                event_store: Any) -> AsyncIterator[AsyncOmniQ]:
    async with AsyncOmniQ(project_name=project_name, task_queue=task_queue,
                          result_store=result_store, event_store=event_store) as oq:
        yield oq


class TestPostgresConformance(ConformanceTests):
    pass
