"""The whole conformance kit (omniq.testing) on the PostgreSQL backend.

Each test gets its own project, so its own schema (``omniq_<project>``), dropped afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from omniq.testing import ConformanceTests
from omniq_postgres import (
    AsyncPostgresEventStore,
    AsyncPostgresResultStore,
    AsyncPostgresTaskQueue,
)

pytestmark = pytest.mark.postgres


class TestPostgresConformance(ConformanceTests):
    @pytest.fixture
    def backend_type(self) -> str:
        return "postgres"

    @pytest.fixture
    async def backend_options(self, postgres_dsn: str,
                              project_name: str) -> AsyncIterator[dict[str, Any]]:
        yield {"url": postgres_dsn}
        conn = await asyncpg.connect(postgres_dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "omniq_{project_name}" CASCADE')
        finally:
            await conn.close()

    @pytest.fixture
    async def task_queue(self, backend_options: dict[str, Any],
                         project_name: str) -> AsyncIterator[AsyncPostgresTaskQueue]:
        async with AsyncPostgresTaskQueue(project_name=project_name, **backend_options) as queue:
            yield queue

    @pytest.fixture
    async def result_store(self, backend_options: dict[str, Any],
                           project_name: str) -> AsyncIterator[AsyncPostgresResultStore]:
        async with AsyncPostgresResultStore(project_name=project_name,
                                              **backend_options) as store:
            yield store

    @pytest.fixture
    async def event_store(self, backend_options: dict[str, Any],
                          project_name: str) -> AsyncIterator[AsyncPostgresEventStore]:
        async with AsyncPostgresEventStore(project_name=project_name,
                                             **backend_options) as store:
            yield store
