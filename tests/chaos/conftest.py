"""Fixtures of the chaos suite (what they build is in ``engines``), and the figures every
scenario recorded, printed at the end of the run."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from engines import (
    FIGURES,
    FULL,
    Engine,
    NATSProcess,
    PostgresProcess,
    RedisProcess,
    Server,
    drop,
    engine_at,
)

SERVER_URLS = {"redis": "redis_url", "postgres": "postgres_dsn", "nats": "nats_url"}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section(f"chaos figures ({'full' if FULL else 'quick'} form)")
        for line in FIGURES:
            terminalreporter.write_line(line)


@pytest.fixture(params=[
    pytest.param("sqlite"),
    pytest.param("file"),
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("nats", marks=pytest.mark.nats),
])
async def engine(request: pytest.FixtureRequest, tmp_path: Path,
                 project_name: str) -> AsyncIterator[Engine]:
    """Every persistent engine, on the shared servers (or in a temporary directory)."""
    name = request.param
    url = request.getfixturevalue(SERVER_URLS[name]) if name in SERVER_URLS else ""
    chosen = engine_at(name, url, project_name, tmp_path)
    try:
        yield chosen
    finally:
        chosen.workers.stop()
        await drop(chosen)


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "ledger"
    path.mkdir()
    return path


@pytest.fixture(params=[pytest.param("redis", marks=pytest.mark.redis),
                        pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("nats", marks=pytest.mark.nats)])
def private_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A server of the test's own, on a free loopback port, that the test may kill."""
    if request.param == "postgres":
        from postgres_server import private_cluster

        with private_cluster() as cluster:
            yield PostgresProcess(cluster)
        return
    server: RedisProcess | NATSProcess = RedisProcess(tmp_path) \
        if request.param == "redis" else NATSProcess(tmp_path / "js")
    try:
        yield server
    finally:
        server.down()


@pytest.fixture
def restartable(private_server: Server, tmp_path: Path, project_name: str) -> Iterator[Engine]:
    """An engine on a private server the test may kill and restart."""
    chosen = engine_at(private_server.name, private_server.url, project_name, tmp_path)
    try:
        yield chosen
    finally:
        chosen.workers.stop()
