"""Fixtures of the chaos suite (what they build is in ``engines``), imported by its test
modules. Not a ``conftest.py``: a second module of that name would shadow the suite's own
``conftest`` that test modules import from. The figures every scenario recorded are printed
at the end of the run by ``tests/conftest.py``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from engines import (
    ENGINES,
    SERVERS,
    Engine,
    NATSProcess,
    PostgresProcess,
    RedisProcess,
    Server,
    drop,
    engine_at,
)

SERVER_URLS = {"redis": "redis_url", "postgres": "postgres_dsn", "nats": "nats_url"}


def _params(names: list[str]) -> list[Any]:
    return [pytest.param(name, marks=[getattr(pytest.mark, name)] if name in SERVER_URLS
                         else []) for name in names]


@pytest.fixture(params=_params(ENGINES))
async def engine(request: pytest.FixtureRequest, tmp_path: Path,
                 project_name: str) -> AsyncIterator[Engine]:
    """Each persistent engine in turn, on the shared servers (or in a temporary directory)."""
    name = request.param
    url = request.getfixturevalue(SERVER_URLS[name]) if name in SERVER_URLS else ""
    chosen = engine_at(name, url, project_name, tmp_path)
    try:
        yield chosen
    finally:
        chosen.workers.stop()
        await drop(chosen)


@pytest.fixture(params=_params(SERVERS))
def restartable(request: pytest.FixtureRequest, tmp_path: Path,
                project_name: str) -> Iterator[tuple[Engine, Server]]:
    """An engine on a server of the test's own (a free loopback port, a temporary directory)
    that the test may kill and restart; only that server is ever stopped."""
    with contextlib.ExitStack() as stack:
        server: Server
        if request.param == "postgres":
            from postgres_server import private_cluster

            server = PostgresProcess(stack.enter_context(private_cluster()))
        else:
            own = RedisProcess(tmp_path) if request.param == "redis" \
                else NATSProcess(tmp_path / "js")
            stack.callback(own.down)
            server = own
        chosen = engine_at(request.param, server.url, project_name, tmp_path / "engine")
        stack.callback(chosen.workers.stop)
        yield chosen, server
