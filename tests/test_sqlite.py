"""The whole conformance kit on the ``sqlite`` backend: as a file, and in ``:memory:``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from omniq import AsyncOmniQ
from omniq.testing import ConformanceTests
from omniq_sqlite import AsyncSQLiteEventStorage, AsyncSQLiteResultStorage, AsyncSQLiteTaskQueue


class _SQLiteFixtures:
    """Queue, results and events of one project sharing one database (separate tables)."""

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
                           ) -> AsyncIterator[AsyncSQLiteResultStorage]:
        async with AsyncSQLiteResultStorage(project_name=project_name,
                                            database_path=database) as store:
            yield store

    @pytest.fixture
    async def event_store(self, project_name: str, database: str
                          ) -> AsyncIterator[AsyncSQLiteEventStorage]:
        async with AsyncSQLiteEventStorage(project_name=project_name,
                                           database_path=database) as store:
            yield store

    @pytest.fixture
    async def omniq(self, project_name: str, task_queue: AsyncSQLiteTaskQueue,
                    result_store: AsyncSQLiteResultStorage,
                    event_store: AsyncSQLiteEventStorage) -> AsyncIterator[AsyncOmniQ]:
        async with AsyncOmniQ(project_name=project_name, task_queue=task_queue,
                              result_store=result_store, event_store=event_store) as oq:
            yield oq


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
