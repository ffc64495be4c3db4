"""Chaos scenarios on every persistent engine: worker processes killed, stopped, frozen and
poisoned, and servers killed, while tasks run; then the ledger (what the tasks really did)
and the fault log are checked: no accepted task lost, and no task run twice unless its worker
died, was frozen past its lease or lost its server while running it.

Quick form by default (CI: small sizes); ``OMNIQ_CHAOS=full`` for the full one (see
docs/user_guide/reliability.qmd). Each scenario prints its figures at the end of the run.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import anyio
import chaos_fixtures
import pytest
from check import Verdict, check
from engines import FULL, SIZES, Engine, Server, figures
from faults import Driver, Fault, FaultLog, Proc, Supervisor, frozen, signal_one
from ledger import pill, read, spin, work
from omniq import AsyncOmniQ
from omniq.exceptions import BackendUnavailableError
from omniq.models import TaskStatus
from omniq.testing import eventually

# The suite's fixtures, by name (see chaos_fixtures).
engine = chaos_fixtures.engine
restartable = chaos_fixtures.restartable

pytestmark = [pytest.mark.anyio, pytest.mark.slow,
              pytest.mark.timeout(3600 if FULL else 240)]

#: Seconds to wait for a scenario's tasks: generous, since the machine may be busy (a storm's
#: recovered tasks run one at a time per worker, so a slow machine drains them slowly).
PATIENCE = 900.0 if FULL else 120.0

#: Deliveries a SIGKILL storm's task may lose before it is dead-lettered as a poison pill.
STORM_DELIVERIES = 1000


async def supervised(start: Callable[[], Proc], count: int, log: FaultLog) -> Supervisor:
    """A started :class:`Supervisor` (its processes start in threads, off the event loop)."""
    return await anyio.to_thread.run_sync(Supervisor(start, count, log).start)


async def start_worker(engine: Engine, concurrency: int, lease: float) -> Proc:
    return await anyio.to_thread.run_sync(engine.start_worker, concurrency, lease)


async def statuses(oq: AsyncOmniQ) -> dict[TaskStatus, int]:
    """How many of the project's tasks are in each status (those with any)."""
    counts = {s: await oq.task_queue.count_tasks(status=s) for s in TaskStatus}
    return {s: n for s, n in counts.items() if n}


async def completed(oq: AsyncOmniQ, n: int) -> bool:
    return await oq.task_queue.count_tasks(status=TaskStatus.COMPLETED) >= n


async def completed_none_failed(oq: AsyncOmniQ, n: int) -> bool:
    """Like :func:`completed`, but fails at once, naming them, if tasks were dead-lettered."""
    failed = await oq.list_tasks(status=TaskStatus.FAILED, limit=10)
    assert not failed, f"dead-lettered: {[(t.id, t.redeliveries, t.error) for t in failed]}"
    return await completed(oq, n)


async def settled(oq: AsyncOmniQ, n: int) -> bool:
    return await statuses(oq) == {TaskStatus.COMPLETED: n}


def summary(scenario: str, engine: str, verdict: Verdict, log: FaultLog, seconds: float,
            **more: Any) -> None:
    why = ", ".join(f"{n} {reason}" for reason, n in verdict.duplicates.items()) or "none"
    faults = ", ".join(f"{n} {kind}" for kind, n in
                       Counter(f.kind for f in log.faults).items()) or "no faults"
    extra = "".join(f", {k.replace('_', ' ')} {v}" for k, v in more.items())
    figures(f"{scenario:<14} {engine:<8} {verdict.tasks} tasks, {verdict.runs} runs, {faults}"
            f"{extra}; second runs {verdict.extra_runs} ({why}); lost {len(verdict.lost)}; "
            f"{seconds:.1f} s")


def assert_sound(verdict: Verdict) -> None:
    assert verdict.lost == [], f"accepted tasks never finished: {verdict.lost[:20]}"
    assert verdict.unexplained == [], "\n".join(verdict.unexplained[:20])


# -- SIGKILL storm -----------------------------------------------------------------------------
async def test_sigkill_storm_loses_nothing(engine: Engine) -> None:
    n, lease = SIZES.tasks, 2.0
    log = FaultLog()
    async with engine.client() as oq:
        # The storm kills innocent workers: a task can lose several in a row, which the
        # poison-pill limit would rightly count against it. This scenario is about loss; the
        # poison-pill scenario is about that limit.
        await oq.enqueue_many(work, [(k, str(engine.ledger), SIZES.task_seconds)
                                     for k in range(n)], max_deliveries=STORM_DELIVERIES)
        began = time.monotonic()
        workers = await supervised(lambda: engine.start_worker(SIZES.concurrency, lease),
                                   SIZES.workers, log)
        with workers, Driver(SIZES.kill_every, signal_one(workers, signal.SIGKILL),
                             times=SIZES.kills):
            try:
                await eventually(lambda: completed_none_failed(oq, n), timeout=PATIENCE,
                                 interval=0.2,
                                 what=f"{n} tasks to complete under a SIGKILL storm")
            except pytest.fail.Exception:
                pytest.fail(f"not done after {PATIENCE} s: {await statuses(oq)}; "
                            f"{log.count('SIGKILL')} kills, {workers.restarts} restarts")
            took = time.monotonic() - began
            # Then every count is exact: nothing else stored, nothing left running. A worker
            # killed between a task's write and its index's (the file backend keeps its index
            # beside the record) leaves an entry that the live workers' next lease check
            # drops once that lease has passed, as it would in service; so it is waited for.
            try:
                await eventually(lambda: settled(oq, n), timeout=4 * lease + 5, interval=0.2,
                                 what="the counts to settle")
            except pytest.fail.Exception:
                pytest.fail(f"counts not {{COMPLETED: {n}}}: {await statuses(oq)}")
        most_lost = max(t.redeliveries for t in await oq.list_tasks(limit=n))
    verdict = check(read(engine.ledger), set(range(n)), log, lease=lease)
    summary("SIGKILL storm", engine.name, verdict, log, took, restarts=workers.restarts,
            most_workers_one_task_lost=most_lost)
    assert_sound(verdict)
    assert log.count("SIGKILL") >= 2, "the storm ended before it hurt anything"


# -- the server killed and restarted mid-run ---------------------------------------------------
async def test_server_killed_mid_run_loses_nothing_acknowledged(
        restartable: tuple[Engine, Server]) -> None:
    engine, server = restartable
    n, chunk, lease = SIZES.tasks, 20, 5.0
    outage = 2.0 if FULL else 1.0
    log = FaultLog()
    typed_errors = 0
    async with engine.client() as oq:
        queue = oq.task_queue

        async def enqueue(tasks: list[Any]) -> None:
            """Until it is stored: a typed error is retried with the very same tasks."""
            nonlocal typed_errors
            while True:
                try:
                    with anyio.fail_after(30):
                        await queue.enqueue_tasks(tasks)
                    return
                except BackendUnavailableError:
                    typed_errors += 1
                    await anyio.sleep(0.1)

        async def all_done() -> bool:
            nonlocal typed_errors
            try:
                return await completed(oq, n)
            except BackendUnavailableError:  # a connection the outage broke; the next works
                typed_errors += 1
                return False

        # Built once: a retried enqueue stores each task once (idempotent by id).
        tasks = [queue.build_task(work, k, str(engine.ledger), 0.02) for k in range(n)]
        await queue.enqueue_tasks(tasks[:n // 2])
        began = time.monotonic()
        workers = await supervised(lambda: engine.start_worker(SIZES.concurrency, lease),
                                   SIZES.workers, log)
        with workers:
            await eventually(lambda: completed(oq, n // 10), timeout=PATIENCE, interval=0.05,
                             what="the run to be under way")
            fault = log.add(Fault(time.time(), "server-down"))
            await anyio.to_thread.run_sync(server.down)
            with anyio.fail_after(30):  # while it is down: a typed error, soon, not a hang
                with pytest.raises(BackendUnavailableError):
                    await queue.enqueue_tasks(tasks[n // 2:n // 2 + chunk])
            typed_errors += 1
            await anyio.sleep(outage)
            await anyio.to_thread.run_sync(server.up)
            fault.until = time.time()
            for start in range(n // 2, n, chunk):
                await enqueue(tasks[start:start + chunk])
            await eventually(all_done, timeout=PATIENCE, interval=0.2,
                             what="every acknowledged task to complete after the restart")
        took = time.monotonic() - began
        counts = await statuses(oq)
        assert counts == {TaskStatus.COMPLETED: n}, counts
    verdict = check(read(engine.ledger), set(range(n)), log, lease=lease)
    summary("server restart", engine.name, verdict, log, took, typed_errors=typed_errors)
    assert_sound(verdict)
    assert workers.restarts == 0, "a worker died of the outage"


# -- long tasks under a short lease ------------------------------------------------------------
async def test_long_tasks_under_a_short_lease_are_never_redelivered(engine: Engine) -> None:
    lease, seconds = 1.0, (10.0 if FULL else 2.5)
    per_kind = 4 if FULL else 2
    ledger = str(engine.ledger)
    log = FaultLog()
    async with engine.client() as oq:
        ids = await oq.enqueue_many(work, [(k, ledger, seconds) for k in range(per_kind)])
        ids += await oq.enqueue_many(spin, [(k, ledger, seconds)
                                            for k in range(per_kind, 2 * per_kind)])
        began = time.monotonic()
        # In this process: its event loop renews the leases while threads sleep or spin.
        await oq.start_worker("async", max_workers=2 * per_kind, lease=lease)
        try:
            await eventually(lambda: completed(oq, len(ids)), timeout=PATIENCE, interval=0.2,
                             what="the long tasks to complete")
        finally:
            await oq.stop_worker()
        took = time.monotonic() - began
        tasks = [await oq.get_task(task_id) for task_id in ids]
    runs = read(engine.ledger)
    verdict = check(runs, set(range(2 * per_kind)), log, lease=lease)
    summary("long tasks", engine.name, verdict, log, took, lease_s=lease, task_s=seconds)
    assert_sound(verdict)
    assert [(t.attempts, t.redeliveries) for t in tasks] == [(1, 0)] * len(ids)
    assert len(runs) == len(ids)  # each ran once, for several leases
    assert all(run.finished - run.started >= seconds for run in runs if run.finished)


# -- a frozen worker's late completion ---------------------------------------------------------
async def test_a_frozen_workers_late_completion_is_refused(engine: Engine) -> None:
    lease = 1.0
    log = FaultLog()
    async with engine.client() as oq:
        task_id = await oq.enqueue(work, 0, str(engine.ledger), 1.0)
        began = time.monotonic()
        sleeper = await start_worker(engine, 1, lease)
        # Its start line, not just its ledger file: a freeze between the file's creation and
        # the line's write stamps the start after the thaw, after the rescuer's run.
        await eventually(lambda: any(r.pid == sleeper.pid for r in read(engine.ledger)),
                         timeout=PATIENCE, what="the task to start")
        with frozen(sleeper, log):
            await oq.start_worker("async", max_workers=1, lease=lease)  # the rescuer, here
            await eventually(lambda: completed(oq, 1), timeout=PATIENCE,
                             what="another worker to run the task of the frozen one")
        await oq.stop_worker()
        # Thawed, the sleeper finishes its attempt and tries to complete it: fenced off.
        await eventually(lambda: len([r for r in read(engine.ledger) if r.finished]) == 2,
                         timeout=PATIENCE, what="the thawed worker to finish its late attempt")
        sleeper.send_signal(signal.SIGTERM)
        assert await anyio.to_thread.run_sync(sleeper.wait, 30) == 0  # a clean stop after
        took = time.monotonic() - began
        task = await oq.get_task(task_id)
        result = await oq.result_store.get(task_id)
    runs = read(engine.ledger)
    verdict = check(runs, {0}, log, lease=lease)
    summary("frozen worker", engine.name, verdict, log, took)
    assert_sound(verdict)
    assert [(r.pid, r.attempt) for r in runs] == [(sleeper.pid, 1), (os.getpid(), 2)]
    assert runs[0].finished > runs[1].finished  # the frozen attempt ended last...
    assert (task.status, task.attempts, task.redeliveries) == (TaskStatus.COMPLETED, 2, 1)
    assert result is not None and result.attempts == 2  # ...and its completion was refused


# -- poison pills with bystanders ---------------------------------------------------------------
async def test_a_poison_pill_takes_no_bystander(engine: Engine) -> None:
    # 2 s: on a loaded machine a starved worker overran a 1 s lease now and then, and the
    # run that replaced its attempt looked like an unexplained second run.
    lease, deliveries, bystanders = 2.0, 3, (16 if FULL else 4)
    ledger = str(engine.ledger)
    log = FaultLog()
    async with engine.client() as oq:
        poison = await oq.enqueue(pill, 0, ledger, max_deliveries=deliveries)
        others = await oq.enqueue_many(work, [(k, ledger, 0.5) for k in range(1, bystanders + 1)],
                                       max_deliveries=deliveries)
        began = time.monotonic()
        workers = await supervised(lambda: engine.start_worker(4, lease), 2, log)
        with workers:
            await eventually(lambda: completed(oq, bystanders), timeout=PATIENCE, interval=0.2,
                             what="every bystander to complete")
            await eventually(lambda: _failed(oq, poison), timeout=PATIENCE, interval=0.2,
                             what="the poison pill to be dead-lettered")
        took = time.monotonic() - began
        dead = await oq.get_task(poison)
        kept = [await oq.get_task(task_id) for task_id in others]
    runs = read(engine.ledger)
    verdict = check(runs, set(range(bystanders + 1)), log, lease=lease, never_finish={0})
    pill_runs = [r.key for r in runs].count(0)
    summary("poison pill", engine.name, verdict, log, took, restarts=workers.restarts,
            pill_runs=pill_runs, bystander_second_runs=verdict.extra_runs - (pill_runs - 1))
    assert_sound(verdict)
    assert dead.error is not None and dead.error.type == "PoisonPill"
    assert pill_runs == deliveries  # it killed a worker each time...
    assert all(t.status == TaskStatus.COMPLETED for t in kept)  # ...and took nobody with it
    assert max(Counter(r.key for r in runs if r.key).values()) <= 2


async def _failed(oq: AsyncOmniQ, task_id: str) -> bool:
    task = await oq.get_task(task_id)
    return task is not None and task.status == TaskStatus.FAILED


# -- SIGTERM: graceful stops hand back what they hold at once ----------------------------------
async def test_sigterm_hands_tasks_back_at_once(engine: Engine) -> None:
    # A task a stopped worker did not hand back would wait for its lease: longer than the run.
    n, lease = (2000, 120.0) if FULL else (200, 60.0)
    log = FaultLog()
    async with engine.client() as oq:
        ids = await oq.enqueue_many(work, [(k, str(engine.ledger), 0.15) for k in range(n)])
        began = time.monotonic()
        workers = await supervised(lambda: engine.start_worker(SIZES.concurrency, lease),
                                   SIZES.workers, log)
        with workers, Driver(SIZES.kill_every, signal_one(workers, signal.SIGTERM)):
            try:
                await eventually(lambda: completed(oq, n), timeout=lease / 2, interval=0.2,
                                 what=f"{n} tasks to complete (a task a stopped worker did "
                                      "not hand back waits for its lease)")
            except pytest.fail.Exception:
                stuck = await oq.list_tasks(status=TaskStatus.RUNNING, limit=20)
                pytest.fail(f"{await statuses(oq)}; running: "
                            f"{[(t.id, t.worker_id, t.lease_expires_at) for t in stuck]}; "
                            f"faults: {log.faults}")
        took = time.monotonic() - began
        tasks = await oq.list_tasks(limit=n)
    verdict = check(read(engine.ledger), set(range(n)), log, lease=lease)
    summary("SIGTERM storm", engine.name, verdict, log, took, restarts=workers.restarts)
    assert_sound(verdict)
    assert verdict.extra_runs == 0  # a graceful stop never makes a task run twice
    assert log.count("SIGTERM") >= 2
    assert {f.code for f in log.faults if f.kind == "exit"} <= {0}  # every stop was graceful
    assert len(tasks) == len(ids) and {t.redeliveries for t in tasks} == {0}


async def test_a_stop_gives_back_a_claim_in_flight(project_name: str) -> None:
    """The SIGTERM storm's finding, made deterministic: a stop that lands while a claim is on
    its way back from the store (here it takes half a second) must not leave what the claim
    took leased to a worker that is gone."""
    from omniq.queue.memory import AsyncMemoryTaskQueue
    from omniq.testing import _tasks
    from omniq.workers import AsyncioWorker

    class SlowClaims(AsyncMemoryTaskQueue):
        claims = 0

        async def claim(self, *args: Any, **kwargs: Any) -> Any:
            tasks = await super().claim(*args, **kwargs)
            if tasks:
                SlowClaims.claims += 1
                await anyio.sleep(0.5)  # the answer is still on the wire
            return tasks

    queue = SlowClaims(project_name=project_name)
    worker = AsyncioWorker(queue, lease=60, poll_interval=0.05)
    await worker.start()
    task_id = await queue.enqueue(_tasks.noop)
    await eventually(lambda: SlowClaims.claims, what="the claim to be under way")
    await worker.stop()
    task = await queue.get_task(task_id)
    assert task is not None and task.status == TaskStatus.PENDING, task
    assert task.lease_expires_at is None and task.worker_id is None
