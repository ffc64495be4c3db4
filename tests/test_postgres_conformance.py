"""The whole conformance kit (omniq.testing) on the PostgreSQL backend.

Each test gets its own project, so its own schema (``omniq_<project>``), dropped afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from omniq.testing import ConformanceTests

pytestmark = pytest.mark.postgres


async def drop_schema(dsn: str, project_name: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "omniq_{project_name}" CASCADE')
    finally:
        await conn.close()


class PostgresBackend:
    """The kit's fixtures for the postgres backend (also used by other worker types' tests)."""

    @pytest.fixture
    def backend_type(self) -> str:
        return "postgres"

    @pytest.fixture
    async def backend_options(self, postgres_dsn: str,
                              project_name: str) -> AsyncIterator[dict[str, Any]]:
        yield {"url": postgres_dsn}
        await drop_schema(postgres_dsn, project_name)


class TestPostgresConformance(PostgresBackend, ConformanceTests):
    """Every contract of the kit on PostgreSQL."""
