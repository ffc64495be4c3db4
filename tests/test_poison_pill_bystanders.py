"""A poison pill takes no bystanders: a task whose last delivery died with its worker runs
alone, so only the task that really kills workers uses up ``max_deliveries``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
from omniq import AsyncOmniQ
from omniq.clock import utcnow
from omniq.models import TaskStatus
from omniq.queue.memory import AsyncMemoryTaskQueue
from omniq.storage.memory import AsyncMemoryResultStore
from omniq.workers import AsyncioWorker
from tasks_sqlite import kill_my_worker, slow_record

TESTS = Path(__file__).parent
WORKER = TESTS / "sqlite_worker.py"
SPANS: dict[str, tuple[float, float]] = {}


async def timed(tag: str, seconds: float) -> str:
    began = time.monotonic()
    await anyio.sleep(seconds)
    SPANS[tag] = (began, time.monotonic())
    return tag


@pytest.mark.anyio
async def test_a_task_that_lost_its_worker_runs_alone(project_name: str) -> None:
    queue = AsyncMemoryTaskQueue(project_name=project_name)
    suspect = await queue.enqueue(timed, "suspect", 0.2)
    # Its first delivery dies with its worker: claimed, then the lease runs out unrenewed.
    [claimed] = await queue.claim(["default"], worker_id="dead", lease=0.01, now=utcnow())
    await anyio.sleep(0.05)
    assert [t.id for t in await queue.recover_leases()] == [suspect]
    others = [await queue.enqueue(timed, f"other{i}", 0.2) for i in range(3)]
    results = AsyncMemoryResultStore(project_name=project_name)
    async with AsyncioWorker(queue, results, max_workers=4, poll_interval=0.05) as worker:
        with anyio.fail_after(10):
            for task_id in [suspect, *others]:
                await worker.get_result(task_id)
    alone = SPANS["suspect"]
    for i in range(3):
        start, end = SPANS[f"other{i}"]
        assert end <= alone[0] or start >= alone[1], "the suspect ran beside another task"


STARTED: dict[str, float] = {}


async def marked(tag: str, seconds: float) -> str:
    STARTED[tag] = time.monotonic()
    await anyio.sleep(seconds)
    return tag


@pytest.mark.anyio
async def test_a_suspect_is_never_held_beside_another_task(project_name: str) -> None:
    """Held by a worker (claimed, waiting to run alone) while another task runs there, a task
    that lost its worker would be charged a delivery it never ran if that task killed the
    worker: a few fresh poison pills claimed beside it would dead-letter it. Claimed together
    with a busy task, it runs first, alone, and is never held while the other runs."""
    queue = AsyncMemoryTaskQueue(project_name=project_name)
    suspect = await queue.enqueue(marked, "suspect", 0.1)
    [claimed] = await queue.claim(["default"], worker_id="dead", lease=0.01, now=utcnow())
    await anyio.sleep(0.05)
    assert [t.id for t in await queue.recover_leases()] == [suspect]
    busy = await queue.enqueue(marked, "busy", 1.0)  # claimed in the same batch
    held_beside: list[str | None] = []
    results = AsyncMemoryResultStore(project_name=project_name)
    async with AsyncioWorker(queue, results, max_workers=4, poll_interval=0.05) as worker:
        with anyio.fail_after(10):
            while (await queue.get_task(busy)).status != TaskStatus.COMPLETED:
                held = await queue.get_task(suspect)
                if "busy" in STARTED and "suspect" not in STARTED \
                        and held.status == TaskStatus.RUNNING:
                    held_beside.append(held.worker_id)
                await anyio.sleep(0.01)
            await worker.get_result(suspect)
    assert held_beside == []
    assert STARTED["suspect"] < STARTED["busy"]


@pytest.mark.anyio
async def test_a_busy_worker_gives_a_suspect_back_and_runs_it_once_idle(
        project_name: str) -> None:
    """A worker that claims a suspect while another task runs there gives it back and claims
    nothing more until that task is done; then it claims the suspect again, alone."""
    queue = AsyncMemoryTaskQueue(project_name=project_name)
    short = await queue.enqueue(marked, "short", 0.5)
    long = await queue.enqueue(marked, "long", 1.5)
    results = AsyncMemoryResultStore(project_name=project_name)
    async with AsyncioWorker(queue, results, max_workers=2, poll_interval=0.05) as worker:
        with anyio.fail_after(10):
            while "long" not in STARTED or "short" not in STARTED:
                await anyio.sleep(0.01)
            # Both slots busy: this worker claims nothing until "short" is done.
            suspect = await queue.enqueue(marked, "late suspect", 0.1)
            [claimed] = await queue.claim(["default"], worker_id="dead", lease=0.01,
                                          now=utcnow())
            await anyio.sleep(0.05)
            assert [t.id for t in await queue.recover_leases()] == [suspect]
            held_beside: list[str | None] = []
            while (await queue.get_task(long)).status != TaskStatus.COMPLETED:
                held = await queue.get_task(suspect)
                if "late suspect" not in STARTED and held.status == TaskStatus.RUNNING:
                    held_beside.append(held.worker_id)
                await anyio.sleep(0.01)
            await worker.get_result(suspect)
            await worker.get_result(short)
    assert held_beside == []
    assert STARTED["late suspect"] > STARTED["long"] + 1.5  # after "long", alone


@pytest.mark.slow
@pytest.mark.anyio
async def test_no_bystander_of_a_poison_pill_is_dead_lettered(tmp_path: Path,
                                                               project_name: str) -> None:
    database = str(tmp_path / "omniq.db")
    log = str(tmp_path / "log")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path])}
    async with AsyncOmniQ(project_name=project_name, backend_type="sqlite",
                          database_path=database) as oq:
        pill = await oq.enqueue(kill_my_worker, max_deliveries=3)
        os.makedirs(log)
        bystanders = [await oq.enqueue(slow_record, i, log, 0.5, max_deliveries=3)
                      for i in range(4)]
        procs: list[subprocess.Popen[str]] = []
        try:
            with anyio.fail_after(90):
                while True:
                    statuses = {t: (await oq.get_task(t)).status for t in [pill, *bystanders]}
                    if all(s in (TaskStatus.COMPLETED, TaskStatus.FAILED)
                           for s in statuses.values()):
                        break
                    if not procs or procs[-1].poll() is not None:  # the pill killed it
                        procs.append(subprocess.Popen(
                            [sys.executable, str(WORKER), database, project_name, "4", "1.0"],
                            env=env, stdout=subprocess.PIPE, text=True))
                    await anyio.sleep(0.2)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(timeout=15)
        assert statuses[pill] == TaskStatus.FAILED
        assert (await oq.get_task(pill)).error.type == "PoisonPill"
        assert all(statuses[b] == TaskStatus.COMPLETED for b in bystanders), statuses
