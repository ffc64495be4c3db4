"""The whole conformance kit on the ``sqlite`` backend: as a file, and in ``:memory:``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from omniq.testing import ConformanceTests
from omniq_sqlite import AsyncSQLiteEventStore, AsyncSQLiteResultStore, AsyncSQLiteTaskQueue


class _SQLiteFixtures:
    """Queue, results and events of one project sharing one database (separate tables)."""

    @pytest.fixture
    def backend_type(self) -> str:
        return "sqlite"

    @pytest.fixture
    def backend_options(self, database: str) -> dict[str, Any]:
        return {"database_path": database}

    @pytest.fixture
    def database(self, tmp_path: Path) -> str:
        raise NotImplementedError

    @pytest.fixture
    async def task_queue(self, project_name: str, database: str
                         ) -> AsyncIterator[AsyncSQLiteTaskQueue]:
        async with AsyncSQLiteTaskQueue(project_name=project_name, database_path=database) as q:
            yield q

    @pytest.fixture
    async def result_store(self, project_name: str, database: str
                           ) -> AsyncIterator[AsyncSQLiteResultStore]:
        async with AsyncSQLiteResultStore(project_name=project_name,
                                            database_path=database) as store:
            yield store

    @pytest.fixture
    async def event_store(self, project_name: str, database: str
                          ) -> AsyncIterator[AsyncSQLiteEventStore]:
        async with AsyncSQLiteEventStore(project_name=project_name,
                                           database_path=database) as store:
            yield store


class TestSQLiteFile(_SQLiteFixtures, ConformanceTests):
    """Every contract on a database file (WAL mode), fresh per test."""

    @pytest.fixture
    def database(self, tmp_path: Path) -> str:
        return str(tmp_path / "omniq.db")


class TestSQLiteMemory(_SQLiteFixtures, ConformanceTests):
    """Every contract on the process's shared ``:memory:`` database."""

    @pytest.fixture
    def database(self) -> str:
        return ":memory:"

    @pytest.fixture
    def store_scope(self) -> str:
        return "process"
