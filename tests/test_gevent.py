"""The ``gevent`` worker (omniq-gevent): the kit's worker tests on every backend, and what
greenlets add: blocking I/O that runs concurrently, leases kept while a greenlet blocks,
greenlets killed on timeout and on cancel.

gevent's monkey-patching is process-wide and cannot be undone: conftest.py runs this module
last, so no other test runs patched.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip("gevent")

import omniq_gevent  # noqa: E402
from gevent import GreenletExit, monkey  # noqa: E402
from omniq import AsyncOmniQ, current_task  # noqa: E402
from omniq.exceptions import TaskCancelledError, TaskFailedError  # noqa: E402
from omniq.models import CancelOutcome, EventType, TaskStatus  # noqa: E402
from omniq.plugins import resolve  # noqa: E402
from omniq.testing import WorkerTests  # noqa: E402
from omniq_gevent import AsyncGeventWorker  # noqa: E402
from test_conformance_memory import MemoryBackend  # noqa: E402
from test_postgres_conformance import PostgresBackend  # noqa: E402
from test_redis_conformance import RedisBackend  # noqa: E402
from test_sqlite import SQLiteBackend  # noqa: E402

WAIT = 20.0


# -- task functions (module level: the worker imports them by name) ---------------------------
def ask(port: int, payload: str = "ping") -> str:
    """One blocking round trip to the loopback server: send a line, read its answer."""
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(payload.encode() + b"\n")
        return conn.makefile().readline().strip()


def report_then_ask(port: int) -> str:
    """Report progress (a write by the worker's loop), then one round trip."""
    ctx = current_task()
    assert ctx is not None
    assert ctx.set_progress({"step": "asking"})
    return ask(port)


def sleep_and_mark(path: str, seconds: float) -> str:
    """Sleep (a cooperative sleep once patched); on a kill, mark ``path + ".killed"``."""
    Path(path + ".started").write_text("started")
    try:
        time.sleep(seconds)
    except GreenletExit:
        Path(path + ".killed").write_text("killed")
        raise
    Path(path).write_text("done")
    return "slept"


def block_in_c(seconds: float) -> str:
    """Hold the greenlet's thread without ever yielding (the original, unpatched sleep)."""
    monkey.get_original("time", "sleep")(seconds)
    return "held"


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="module", autouse=True)
def _patched() -> None:
    omniq_gevent.patch()


@pytest.fixture
async def delay_server() -> AsyncIterator[tuple[int, list[float]]]:
    """A loopback server that answers each line after ``DELAY`` s; yields its port and the
    delays it was asked for (by ``"sleep N"`` lines)."""
    seen: list[float] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = (await reader.readline()).decode().strip()
        delay = float(line.split()[1]) if line.startswith("sleep ") else 0.05
        seen.append(delay)
        await asyncio.sleep(delay)
        writer.write(f"pong {line}\n".encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, backlog=1024)
    try:
        yield server.sockets[0].getsockname()[1], seen
    finally:
        server.close()


class _Gevent:
    @pytest.fixture(params=["gevent"])
    def worker_type(self, request: pytest.FixtureRequest) -> str:
        return str(request.param)


# -- the kit's worker tests, on every backend -------------------------------------------------
class TestGeventMemory(_Gevent, MemoryBackend, WorkerTests):
    pass


class TestGeventSQLite(_Gevent, SQLiteBackend, WorkerTests):
    @pytest.fixture
    def database(self, tmp_path: Path) -> str:
        return str(tmp_path / "omniq.db")


@pytest.mark.redis
class TestGeventRedis(_Gevent, RedisBackend, WorkerTests):
    pass


@pytest.mark.postgres
class TestGeventPostgres(_Gevent, PostgresBackend, WorkerTests):
    pass


# -- what greenlets add ------------------------------------------------------------------------
@pytest.fixture
async def omniq(tmp_path: Path, project_name: str) -> AsyncIterator[AsyncOmniQ]:
    async with AsyncOmniQ(backend_type="sqlite", project_name=project_name,
                          database_path=str(tmp_path / "omniq.db")) as oq:
        yield oq


FAST = {"lease": 1.0, "poll_interval": 0.05, "maintenance_interval": 0.05, "grace_period": 5.0}


@pytest.mark.anyio
async def test_blocking_socket_io_runs_concurrently(
        omniq: AsyncOmniQ, delay_server: tuple[int, list[float]]) -> None:
    port, seen = delay_server
    ids = await omniq.enqueue_many(ask, [{"port": port, "payload": f"n{i}"} for i in range(200)])
    started = time.monotonic()
    await omniq.start_worker("gevent", max_workers=200, **FAST)
    try:
        results = [await omniq.get_result(task_id, timeout=WAIT) for task_id in ids]
    finally:
        await omniq.stop_worker()
    took = time.monotonic() - started
    assert results == [f"pong n{i}" for i in range(200)]
    assert len(seen) == 200
    # One at a time would take 200 * 50 ms = 10 s.
    assert took < 4.0, f"200 round trips of 50 ms took {took:.2f} s: they did not overlap"


@pytest.mark.anyio
async def test_lease_is_kept_while_a_greenlet_waits_on_a_socket_past_it(
        omniq: AsyncOmniQ, delay_server: tuple[int, list[float]]) -> None:
    port, _ = delay_server
    async with _worker(omniq, lease=0.4):
        task_id = await omniq.enqueue(ask, port, "sleep 1.5")
        assert await omniq.get_result(task_id, timeout=WAIT) == "pong sleep 1.5"
    task = await omniq.get_task(task_id)
    assert task.attempts == 1 and task.redeliveries == 0
    assert await omniq.get_events(task_id, type=EventType.LEASE_EXPIRED) == []


@pytest.mark.anyio
async def test_lease_is_kept_while_a_greenlet_blocks_in_c_without_yielding(
        omniq: AsyncOmniQ) -> None:
    # The hub's thread is held for 1.2 s: heartbeats come from the loop in another thread.
    async with _worker(omniq, lease=0.4):
        task_id = await omniq.enqueue(block_in_c, 1.2)
        assert await omniq.get_result(task_id, timeout=WAIT) == "held"
    task = await omniq.get_task(task_id)
    assert task.attempts == 1 and task.redeliveries == 0


@pytest.mark.anyio
async def test_timeout_kills_the_greenlet(omniq: AsyncOmniQ, tmp_path: Path) -> None:
    marker = str(tmp_path / "slow")
    async with _worker(omniq):
        task_id = await omniq.enqueue(sleep_and_mark, marker, 5.0, timeout=0.5)
        with pytest.raises(TaskFailedError) as info:
            await omniq.get_result(task_id, timeout=WAIT)
        assert info.value.exc_type == "TaskTimeoutError"
        await _eventually(lambda: Path(marker + ".killed").exists())
    assert not Path(marker).exists()


@pytest.mark.anyio
async def test_cancel_kills_the_greenlet_within_a_second(omniq: AsyncOmniQ,
                                                         tmp_path: Path) -> None:
    marker = str(tmp_path / "long")
    async with _worker(omniq, lease=30.0):
        task_id = await omniq.enqueue(sleep_and_mark, marker, 30.0)
        await _eventually(lambda: Path(marker + ".started").exists())
        asked = time.monotonic()
        assert await omniq.cancel(task_id) == CancelOutcome.REQUESTED
        with pytest.raises(TaskCancelledError) as info:
            await omniq.get_result(task_id, timeout=WAIT)
        assert time.monotonic() - asked < 2.0
        assert "greenlet was killed" in (info.value.reason or "")
        await _eventually(lambda: Path(marker + ".killed").exists())
    assert (await omniq.get_task(task_id)).status == TaskStatus.CANCELLED


@pytest.mark.anyio
async def test_progress_reports_do_not_stall_the_other_greenlets(
        omniq: AsyncOmniQ, delay_server: tuple[int, list[float]]) -> None:
    port, _ = delay_server
    ids = await omniq.enqueue_many(report_then_ask, [{"port": port} for _ in range(50)])
    started = time.monotonic()
    async with _worker(omniq, max_workers=50):
        results = [await omniq.get_result(task_id, timeout=WAIT) for task_id in ids]
    took = time.monotonic() - started
    assert results == ["pong ping"] * 50
    # Each waits for its progress write, then 50 ms; one at a time that is over 2.5 s.
    assert took < 2.0, f"50 tasks reporting progress took {took:.2f} s"


def test_default_pool_size_comes_from_gevent_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIQ_GEVENT_WORKERS", "7")
    queue = resolve("task_queue", "memory")(project_name="pool")
    assert AsyncGeventWorker(queue).max_workers == 7
    assert AsyncGeventWorker(queue, max_workers=3).max_workers == 3


def test_worker_type_is_registered_by_the_plugin() -> None:
    assert resolve("worker", "gevent") is AsyncGeventWorker
    from omniq.workers import GeventWorker

    assert GeventWorker is omniq_gevent.GeventWorker


def test_patch_patches_what_blocking_io_needs_and_leaves_threads() -> None:
    assert omniq_gevent.is_patched()
    for name in ("socket", "ssl", "time", "select"):
        assert monkey.is_module_patched(name), name
    assert not monkey.is_module_patched("threading")


@pytest.mark.redis
def test_python_m_omniq_gevent_patches_before_the_drivers_import_ssl(redis_url: str,
                                                                     project_name: str) -> None:
    # Patched after redis.asyncio bound ssl names, gevent warns (a RuntimeWarning): as an
    # error here, the worker would not start.
    worker = subprocess.Popen(
        [sys.executable, "-W", "error::RuntimeWarning", "-m", "omniq_gevent", "worker",
         "--type", "gevent", "--url", redis_url, "--project", project_name],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert worker.stdout is not None
        line = worker.stdout.readline()
        assert "(gevent, 100 slots)" in line, (line, worker.stderr and worker.stderr.read())
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=WAIT)
    assert worker.returncode == 0, err
    assert "MonkeyPatchWarning" not in err


def test_the_omniq_command_runs_a_gevent_worker_under_python_m_omniq_gevent(
        tmp_path: Path) -> None:
    # `omniq worker` has imported ssl and the driver before it knows the worker type; it runs
    # itself again (same process id) under `python -m omniq_gevent`, which patches first.
    command = Path(sys.executable).with_name("omniq")
    url = f"sqlite:///{tmp_path / 'g.db'}"
    worker = subprocess.Popen(
        [str(command), "worker", "--type", "gevent", "--url", url, "--project", "g"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONWARNINGS": "error::RuntimeWarning"})
    try:
        assert worker.stdout is not None
        line = worker.stdout.readline()
        assert "(gevent, 100 slots)" in line, (line, worker.stderr and worker.stderr.read())
        cmdline = Path(f"/proc/{worker.pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[1:5] == [b"-m", b"omniq_gevent", b"worker", b"--type"], cmdline
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=WAIT)
    assert worker.returncode == 0, err
    assert "MonkeyPatchWarning" not in err


# -- helpers -----------------------------------------------------------------------------------
class _worker:
    """``async with _worker(omniq, **options)``: a running gevent worker, always stopped."""

    def __init__(self, omniq: AsyncOmniQ, **options: Any) -> None:
        self.omniq, self.options = omniq, {"max_workers": 4, **FAST, **options}

    async def __aenter__(self) -> Any:
        return await self.omniq.start_worker("gevent", **self.options)

    async def __aexit__(self, *exc: object) -> None:
        await self.omniq.stop_worker()


async def _eventually(check: Any, timeout: float = WAIT) -> None:
    with anyio.fail_after(timeout):
        while not check():
            await anyio.sleep(0.02)
