"""The whole conformance kit on the ``sqlite`` backend: as a file, and in ``:memory:``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from omniq.testing import ConformanceTests


class SQLiteBackend:
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


class TestSQLiteFile(SQLiteBackend, ConformanceTests):
    """Every contract on a database file (WAL mode), fresh per test."""

    @pytest.fixture
    def database(self, tmp_path: Path) -> str:
        return str(tmp_path / "omniq.db")


class TestSQLiteMemory(SQLiteBackend, ConformanceTests):
    """Every contract on the process's shared ``:memory:`` database."""

    @pytest.fixture
    def database(self) -> str:
        return ":memory:"

    @pytest.fixture
    def store_scope(self) -> str:
        return "process"
