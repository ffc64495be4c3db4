"""Fixtures of the chaos suite (what they build is in ``engines``), and the figures every
scenario recorded, printed at the end of the run."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from engines import (
    ENGINE_SETS,
    ENGINES,
    FIGURES,
    FULL,
    SERVER_SETS,
    Engine,
    NATSProcess,
    PostgresProcess,
    RedisProcess,
    Server,
    drop,
    engine_at,
    figures,
)

SERVER_URLS = {"redis": "redis_url", "postgres": "postgres_dsn", "nats": "nats_url"}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section(f"chaos figures ({'full' if FULL else 'quick'} form)")
        for line in FIGURES:
            terminalreporter.write_line(line)


def _param(names: list[str]) -> Any:
    marks = [getattr(pytest.mark, name) for name in names if name in SERVER_URLS]
    return pytest.param(names, marks=marks, id="+".join(names))


def _url(request: pytest.FixtureRequest, name: str, alone: bool) -> str | None:
    """The shared server's URL; None when it is down outside CI and other engines can go on
    without it (in CI, and for a test of this engine alone, the fixture fails or skips)."""
    if name not in SERVER_URLS:
        return ""
    try:
        return str(request.getfixturevalue(SERVER_URLS[name]))
    except pytest.skip.Exception as skipped:
        if alone:
            raise
        figures(f"{request.node.name}: {name} left out: {skipped}")
        return None


@contextlib.asynccontextmanager
async def _engines(request: pytest.FixtureRequest, names: list[str], tmp_path: Path,
                   project_name: str) -> AsyncIterator[list[Engine]]:
    chosen = []
    for name in names:
        url = _url(request, name, alone=len(names) == 1)
        if url is not None:
            chosen.append(engine_at(name, url, f"{project_name}{name[:2]}", tmp_path / name))
    try:
        yield chosen
    finally:
        for engine in chosen:
            engine.workers.stop()
        for engine in chosen:
            await drop(engine)


@pytest.fixture(params=[_param(names) for names in ENGINE_SETS])
async def engines(request: pytest.FixtureRequest, tmp_path: Path,
                  project_name: str) -> AsyncIterator[list[Engine]]:
    """The persistent engines a scenario runs on side by side (every one in the quick form,
    one per test in the full form), on the shared servers or in a temporary directory."""
    async with _engines(request, request.param, tmp_path, project_name) as chosen:
        yield chosen


@pytest.fixture(params=[_param([name]) for name in ENGINES])
async def engine(request: pytest.FixtureRequest, tmp_path: Path,
                 project_name: str) -> AsyncIterator[Engine]:
    """Each persistent engine in turn (or those a test names: ``indirect`` parameters)."""
    names = request.param if isinstance(request.param, list) else [request.param]
    async with _engines(request, names, tmp_path, project_name) as chosen:
        yield chosen[0]


def _private(name: str, directory: Path, stack: contextlib.ExitStack) -> Server:
    """A server of the test's own, on a free loopback port, that the test may kill."""
    if name == "postgres":
        from postgres_server import private_cluster

        return PostgresProcess(stack.enter_context(private_cluster()))
    directory.mkdir(parents=True)
    server: RedisProcess | NATSProcess = \
        RedisProcess(directory) if name == "redis" else NATSProcess(directory / "js")
    stack.callback(server.down)
    return server


@pytest.fixture(params=[_param(names) for names in SERVER_SETS])
def restartables(request: pytest.FixtureRequest, tmp_path: Path,
                 project_name: str) -> Iterator[list[tuple[Engine, Server]]]:
    """Engines on private servers the test may kill and restart."""
    with contextlib.ExitStack() as stack:
        pairs = []
        for name in request.param:
            server = _private(name, tmp_path / f"{name}-server", stack)
            engine = engine_at(name, server.url, f"{project_name}{name[:2]}", tmp_path / name)
            stack.callback(engine.workers.stop)
            pairs.append((engine, server))
        yield pairs
