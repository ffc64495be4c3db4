"""``ClaimAtomicityTests``: a claim is atomic across separate task-queue instances and separate
processes on one store, not only across the coroutines sharing one instance.

One instance may serialise its calls on one client (SQLite's connection, a Redis connection), so
concurrent claims through it prove nothing about two workers, which each build their own. These
tests build independent instances with the ``task_queue_factory`` fixture, in this process and in
spawned ones, let them claim the same tasks at once, and check each task was claimed exactly once.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import pickle
import queue as queue_module
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio
import msgspec
import pytest

from . import _tasks
from ._fixtures import STORE_SCOPES
from ._support import KitBase, moment

_replace = msgspec.structs.replace
QUEUE = "kit-race"
#: Tasks of a race at ``volume`` 1.
TASKS = 150
INSTANCES = 4
CLAIMERS_PER_INSTANCE = 3
PROCESSES = 3
#: Seconds the spawned processes have to start, connect and claim everything.
PROCESS_WAIT = 90.0


@dataclass(frozen=True)
class QueueFactory:
    """A picklable recipe for a new, unconnected task queue of an installed plugin:
    ``plugins.resolve("task_queue", backend_type)(project_name=..., **options)``.

    The kit's default ``task_queue_factory``; a plugin whose queue needs other arguments
    overrides that fixture with any picklable zero-argument callable (a module-level class or
    function, or a :func:`functools.partial` of one).
    """

    backend_type: str
    project_name: str
    options: dict[str, Any] = field(default_factory=dict)

    def __call__(self) -> Any:
        from ..plugins import resolve

        cls = resolve("task_queue", self.backend_type)
        return cls(project_name=self.project_name, **self.options)


def check_each_claimed_once(claimed: Sequence[str], ids: Sequence[str], across: str) -> None:
    counts = Counter(claimed)
    twice = sorted(task_id for task_id, n in counts.items() if n > 1)
    assert not twice, (
        f"{len(twice)} of {len(ids)} tasks were claimed more than once across {across}, e.g. "
        f"{twice[:3]}: claim must take and lease tasks in one atomic step of the store "
        "(a transaction, a conditional update, a server-side script)"
    )
    lost = sorted(set(ids) - set(counts))
    assert not lost, (
        f"{len(lost)} of {len(ids)} runnable tasks were never claimed across {across}, e.g. "
        f"{lost[:3]}: claim returned nothing while runnable tasks were left"
    )
    assert set(counts) <= set(ids), "claim returned tasks that were never enqueued"


async def _enqueue_race(queue: Any, tasks: int) -> list[str]:
    return list(await queue.enqueue_many(_tasks.identity, range(tasks), queue_name=QUEUE))


async def _claim_all(queue: Any, worker_id: str, now: datetime, limit: int) -> list[str]:
    claimed: list[str] = []
    while got := await queue.claim([QUEUE], worker_id=worker_id, lease=300, now=now,
                                   limit=limit):
        claimed.extend(t.id for t in got)
        await anyio.sleep(0)
    return claimed


async def _claim_in_child_async(factory: Callable[[], Any], now: datetime,
                                start: threading.Barrier, number: int) -> list[str]:
    async with factory() as queue:
        await queue.count_tasks(queue_name=QUEUE)  # connected and warm before the start line
        start.wait(timeout=PROCESS_WAIT)
        return await _claim_all(queue, f"kit-process-{number}", now, 1 + number % 2)


def _claim_in_child(factory: Callable[[], Any], now: datetime, start: threading.Barrier,
                    results: Any, number: int) -> None:
    """Entry point of a spawned claimer: reports ``("ok", ids)`` or ``("error", traceback)``."""
    try:
        results.put(("ok", anyio.run(_claim_in_child_async, factory, now, start, number)))
    except BaseException:
        results.put(("error", traceback.format_exc()))


def _claim_in_processes(factory: Callable[[], Any], now: datetime) -> list[str]:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PROCESSES)
    results = context.Queue()
    processes = [
        context.Process(target=_claim_in_child, args=(factory, now, start, results, n),
                        name=f"omniq-kit-claimer-{n}", daemon=True)
        for n in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    try:
        outcomes = [results.get(timeout=PROCESS_WAIT) for _ in processes]
    except queue_module.Empty:
        pytest.fail(f"the {PROCESSES} claimer processes did not all report within "
                    f"{PROCESS_WAIT} s")
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
    errors = [detail for status, detail in outcomes if status == "error"]
    if errors:
        pytest.fail("a claimer process failed:\n" + "\n".join(errors))
    return [task_id for _, ids in outcomes for task_id in ids]


class ClaimAtomicityTests(KitBase):
    """Claims through independent instances (fixtures: ``task_queue_factory``, which by default
    needs ``backend_type`` and ``backend_options``, and ``store_scope``)."""

    @pytest.mark.anyio
    async def test_separate_instances_claim_each_task_exactly_once(
            self, task_queue_factory: Callable[[], Any], store_scope: str) -> None:
        _skip_unless_shared(store_scope, "process")
        claimed: list[str] = []

        async def claimer(queue: Any, number: int) -> None:
            claimed.extend(await _claim_all(queue, f"kit-claimer-{number}", now, 1 + number % 3))

        async with AsyncExitStack() as stack:
            queues = [await stack.enter_async_context(task_queue_factory())
                      for _ in range(INSTANCES)]
            # Kept open meanwhile: a store that lives in the process may end with its last client.
            ids = await _enqueue_race(queues[0], self.sized(TASKS))
            now = moment()
            with anyio.fail_after(60):
                async with anyio.create_task_group() as tg:
                    for number in range(INSTANCES * CLAIMERS_PER_INSTANCE):
                        tg.start_soon(claimer, queues[number % INSTANCES], number)
        check_each_claimed_once(claimed, ids, f"{INSTANCES} task-queue instances")

    @pytest.mark.anyio
    async def test_separate_processes_claim_each_task_exactly_once(
            self, task_queue_factory: Callable[[], Any], store_scope: str) -> None:
        _skip_unless_shared(store_scope, "shared")
        try:
            pickle.dumps(task_queue_factory)
        except Exception as exc:
            pytest.fail(f"task_queue_factory must be picklable to reach the claimer processes "
                        f"({exc}): return a module-level class or function, or a "
                        "functools.partial of one, with picklable arguments")
        async with task_queue_factory() as queue:
            ids = await _enqueue_race(queue, self.sized(TASKS))
        claimed = await anyio.to_thread.run_sync(_claim_in_processes, task_queue_factory,
                                                 moment())
        check_each_claimed_once(claimed, ids, f"{PROCESSES} processes")

    @pytest.mark.anyio
    async def test_modify_running_loses_no_write_landing_between_its_read_and_its_write(
            self, task_queue_factory: Callable[[], Any], store_scope: str) -> None:
        # The contract's default reads, calls ``change``, then writes fenced on status and
        # attempt only: a cancel request another worker stores in between is overwritten.
        _skip_unless_shared(store_scope, "process")
        async with task_queue_factory() as queue:
            await queue.add_tasks([queue.build_task(_tasks.add, 1, 2, queue_name=QUEUE)])
            [task] = await queue.claim([QUEUE], worker_id="kit", lease=60, now=moment())
            competitor = threading.Thread(target=_request_cancel,
                                          args=(task_queue_factory, task.id, task.attempts))

            def change(stored: Any) -> Any:
                if not competitor.is_alive() and competitor.ident is None:
                    competitor.start()
                    # Landed in the meantime, or (an engine that locks the task while
                    # ``change`` runs) waiting for this write: then it lands after it.
                    competitor.join(timeout=1.0)
                return _replace(stored, progress={"kit": "progress"})

            assert await queue.modify_running(task.id, task.attempts, change) is not None
            await anyio.to_thread.run_sync(competitor.join, 30.0)
            stored = await queue.get_task(task.id)
        assert stored.progress == {"kit": "progress"}, "modify_running's own change was lost"
        assert stored.cancel_requested, (
            "a cancel request stored by another instance while modify_running was between its "
            "read and its write was overwritten: make modify_running atomic (a transaction, "
            "or a compare-and-set on the stored record that reads again and calls change again "
            "when it fails)")


def _request_cancel(factory: Callable[[], Any], task_id: str, attempts: int) -> None:
    """Store a cancel request through an instance of its own, on a loop of its own."""
    async def request() -> None:
        async with factory() as other:
            await other.modify_running(task_id, attempts,
                                       lambda t: _replace(t, cancel_requested=True))

    asyncio.run(request())


def _skip_unless_shared(store_scope: str, needed: str) -> None:
    """Skip unless the store is shared at least as widely as ``needed`` (``STORE_SCOPES`` goes
    from the widest to the narrowest)."""
    if store_scope not in STORE_SCOPES:
        pytest.fail(f"the store_scope fixture returned {store_scope!r}; expected one of "
                    f"{', '.join(map(repr, STORE_SCOPES))}")
    if STORE_SCOPES.index(store_scope) <= STORE_SCOPES.index(needed):
        return
    if store_scope == "instance":
        pytest.skip("store_scope is 'instance': each instance keeps its own tasks, so separate "
                    "instances never compete for one")
    pytest.skip(f"store_scope is {store_scope!r}: the store lives in one process, so no other "
                "process can claim from it")
