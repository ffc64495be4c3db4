"""Task functions the conformance kit enqueues.

They live at module level in an importable module because the ``process_pool`` worker pickles
functions by reference. Whatever must be seen across processes (markers, counters, the order
tasks ran in) goes through files whose paths the test passes as arguments.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from pathlib import Path
from typing import Any

from ..exceptions import TaskCancelledError
from ..workers import current_task

#: Longest any kit task keeps running on its own; tests never wait on it.
MAX_RUN = 10.0


def noop(*args: Any, **kwargs: Any) -> None:
    """Does nothing; queue-level tests only need a valid, signed call."""


def add(a: Any, b: Any) -> Any:
    return a + b


async def async_add(a: Any, b: Any) -> Any:
    await asyncio.sleep(0)
    return a + b


def identity(value: Any) -> Any:
    return value


def stamp() -> float:
    """The wall-clock time it ran at (schedule runs return increasing values)."""
    return time.time()


def fail(message: str) -> None:
    raise ValueError(message)


async def async_fail(message: str) -> None:
    await asyncio.sleep(0)
    raise ValueError(message)


def touch(path: str, value: Any = None) -> Any:
    """Create ``path`` (proof that the task ran) and return ``value``."""
    Path(path).write_text("ran")
    return value


def append(path: str, text: str) -> str:
    """Append ``text`` to ``path``: tests read the order tasks ran in."""
    with open(path, "a") as f:
        f.write(text)
    return text


def flaky(counter_path: str, failures: int, value: Any) -> Any:
    """Fail the first ``failures`` calls, then return ``value`` (attempts counted in a file)."""
    counter = Path(counter_path)
    calls = int(counter.read_text() or "0") + 1 if counter.exists() else 1
    counter.write_text(str(calls))
    if calls <= failures:
        raise RuntimeError(f"flaky failure {calls} of {failures}")
    return value


def fail_unless_exists(path: str, value: Any) -> Any:
    """Fail until ``path`` exists (a dead letter that can succeed once requeued)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} does not exist yet")
    return value


def sleep_then_touch(path: str, seconds: float, value: Any = "slept") -> Any:
    """Block for ``seconds`` (a thread or process that cannot be interrupted), then mark
    ``path``. Writes ``path + ".pid"`` first, so a test can see the process that runs it."""
    Path(path + ".pid").write_text(str(os.getpid()))
    Path(path + ".started").write_text("started")
    time.sleep(seconds)
    Path(path).write_text("done")
    return value


async def async_sleep_then_touch(path: str, seconds: float, value: Any = "slept") -> Any:
    """Like :func:`sleep_then_touch`, but a coroutine; if cancelled it marks
    ``path + ".cancelled"``, which shows the worker really cancelled it."""
    Path(path + ".started").write_text("started")
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        Path(path + ".cancelled").write_text("cancelled")
        raise
    Path(path).write_text("done")
    return value


def wait_for_cancel(path: str) -> str:
    """Run until the worker says this task was cancelled (cooperative cancellation).

    Marks ``path + ".started"`` first. In a process-pool child, whose cancellation is a kill,
    it just runs until killed or until :data:`MAX_RUN` passes.
    """
    Path(path + ".pid").write_text(str(os.getpid()))
    Path(path + ".started").write_text("started")
    deadline = time.monotonic() + MAX_RUN
    while time.monotonic() < deadline:
        ctx = current_task()
        if ctx is not None and ctx.cancelled:
            Path(path + ".cancelled").write_text("cancelled")
            raise TaskCancelledError(ctx.task.id, "cancelled", "stopped on request")
        time.sleep(0.01)
    return "not cancelled"


async def async_wait_for_cancel(path: str) -> str:
    """Coroutine version of :func:`wait_for_cancel`; cancelled from outside or by the token."""
    Path(path + ".started").write_text("started")
    try:
        deadline = time.monotonic() + MAX_RUN
        while time.monotonic() < deadline:
            ctx = current_task()
            if ctx is not None and ctx.cancelled:
                raise TaskCancelledError(ctx.task.id, "cancelled", "stopped on request")
            await asyncio.sleep(0.01)
    except (asyncio.CancelledError, TaskCancelledError):
        Path(path + ".cancelled").write_text("cancelled")
        raise
    return "not cancelled"


def report_progress(release_path: str, progress: Any) -> str:
    """Report ``progress``, then wait until the test creates ``release_path``."""
    ctx = current_task()
    if ctx is None:
        raise RuntimeError("no task context: current_task() returned None")
    ctx.set_progress(progress)
    _wait_for_file(release_path)
    return "released"


async def async_report_progress(release_path: str, progress: Any) -> str:
    ctx = current_task()
    if ctx is None:
        raise RuntimeError("no task context: current_task() returned None")
    stored = ctx.set_progress(progress)
    if inspect.isawaitable(stored):
        await stored
    deadline = time.monotonic() + MAX_RUN
    while not os.path.exists(release_path) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return "released"


def record_callback(result: Any, path: str) -> None:
    """A callback: writes the task's result to ``path``."""
    Path(path).write_text(repr(result))


def failing_callback(result: Any) -> None:
    raise RuntimeError(f"callback failed on {result!r}")


def _wait_for_file(path: str) -> None:
    deadline = time.monotonic() + MAX_RUN
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)


def extend_own_lease(release_path: str, seconds: float) -> str:
    """Extend this task's lease by ``seconds`` from inside, then wait for ``release_path``."""
    ctx = current_task()
    if ctx is None:
        raise RuntimeError("no task context: current_task() returned None")
    if not ctx.extend_lease(seconds):
        raise RuntimeError("extend_lease was refused")
    _wait_for_file(release_path)
    return "extended"
