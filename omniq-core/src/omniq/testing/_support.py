"""Shared plumbing of the kit: the anyio backend, bounded waits, task builders, workers."""

from __future__ import annotations

import inspect
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from .._time import utcnow
from ..models import EventType, Task, TaskEvent
from . import _tasks
from ._fixtures import KitFixtures

if TYPE_CHECKING:
    from .._core import AsyncOmniQ
    from ..queue import AsyncTaskQueue

#: Worker settings that keep the kit fast: short leases, polls and maintenance ticks.
FAST_WORKER: dict[str, Any] = {
    "max_workers": 4,
    "lease": 1.0,
    "poll_interval": 0.05,
    "maintenance_interval": 0.05,
    "grace_period": 5.0,
}
def leases(n: float) -> float:
    """``n`` of the kit workers' lease, in seconds (1 s unless the plugin's ``worker_settings``
    says otherwise): tests that need a short lease take a fraction of it, so a store that
    needs a longer one (an emulator) gets proportionally longer ones there too."""
    return n * float(FAST_WORKER["lease"])


#: Longest any single wait in the kit may take before the test fails.
WAIT = 15.0


class KitBase(KitFixtures):
    """Base of every kit class: its fixtures (see :mod:`omniq.testing._fixtures`)."""

    #: The share of their default sizes used by the tests that move hundreds of tasks or
    #: events (the claim races, the bulk enqueue, a large event batch). 1 runs the kit as
    #: written; a plugin whose store costs several requests per task to a slow endpoint (an
    #: emulator on the test machine, a remote object store) may lower it to keep its run short.
    volume: float = 1.0

    def sized(self, default: int) -> int:
        """``default`` scaled by :attr:`volume`, never below 40 (or ``default`` if smaller):
        a race keeps tasks enough for its claimers to collide."""
        return max(min(default, 40), round(default * self.volume))


async def eventually(check: Callable[[], Any], *, timeout: float = WAIT,
                     interval: float = 0.02, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    try:
        with anyio.fail_after(timeout):
            while True:
                value = check()
                if inspect.isawaitable(value):
                    value = await value
                if value:
                    return value
                await anyio.sleep(interval)
    except TimeoutError:
        pytest.fail(f"timed out after {timeout} s waiting for {what}")


def moment() -> datetime:
    """Now, rounded up to the next whole millisecond (every engine keeps at least that
    precision); never earlier than a time read before, so tasks enqueued just before are
    runnable at it."""
    now = utcnow() + timedelta(microseconds=999)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def make_task(queue: AsyncTaskQueue, *, now: datetime | None = None, delay: float = 0.0,
              **options: Any) -> Task:
    """A signed task of :func:`_tasks.noop`, runnable ``delay`` seconds after ``now``."""
    now = now or moment()
    return queue.build_task(_tasks.noop, now=now, run_at=now + timedelta(seconds=delay),
                            **options)


async def add(queue: AsyncTaskQueue, *tasks: Task) -> list[str]:
    """Store tasks through the contract primitive; asserts each was new."""
    inserted = await queue.add_tasks(list(tasks))
    assert inserted == [True] * len(tasks)
    return [t.id for t in tasks]


async def claim_ids(queue: AsyncTaskQueue, queues: list[str], now: datetime,
                    limit: int = 1, lease: float = 30.0) -> list[str]:
    tasks = await queue.claim(queues, worker_id="kit-worker", lease=lease, now=now, limit=limit)
    return [t.id for t in tasks]


async def events_of(omniq: AsyncOmniQ, task_id: str | None = None,
                    type_: EventType | None = None, **filters: Any) -> list[TaskEvent]:
    return await omniq.get_events(task_id, type=type_, **filters)


async def wait_for_event(omniq: AsyncOmniQ, task_id: str, type_: EventType,
                         count: int = 1) -> list[TaskEvent]:
    """Events are written in the background in batches: wait until ``count`` have arrived."""

    async def enough() -> list[TaskEvent] | None:
        found = await events_of(omniq, task_id, type_)
        return found if len(found) >= count else None

    return await eventually(enough, what=f"{count} {type_.value} event(s) of task {task_id}")


@asynccontextmanager
async def running_worker(omniq: AsyncOmniQ, worker_type: str,
                         **options: Any) -> AsyncIterator[Any]:
    """Start a worker through ``omniq.start_worker`` and always stop it."""
    worker = await omniq.start_worker(worker_type, **{**FAST_WORKER, **options})
    try:
        yield worker
    finally:
        if omniq.worker is not None:
            await omniq.stop_worker(timeout=FAST_WORKER["grace_period"])


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie awaiting its parent counts as gone)."""
    stat = f"/proc/{pid}/stat"
    if os.path.exists("/proc"):
        try:
            with open(stat) as f:
                return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
