"""Three worker processes run the scheduler on one store: each due run fires exactly once
(issue 3), on every persistent backend."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest
from omniq import OmniQ
from seed_tasks import scheduled_task

TESTS = Path(__file__).parent
RUNS = 8


@pytest.fixture(params=["sqlite", "redis", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'schedules.db'}"
    return request.getfixturevalue(f"{request.param}_dsn" if request.param == "postgres"
                                   else f"{request.param}_url")


@pytest.mark.slow
def test_three_scheduler_processes_fire_each_run_once(store_url: str, project_name: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    workers = [subprocess.Popen(
        [sys.executable, "-m", "omniq", "worker", "--url", store_url, "--project", project_name,
         "--type", "async", "--lease", "3"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    try:
        for proc in workers:
            assert proc.stdout is not None and "serving" in proc.stdout.readline()
        with OmniQ(project_name=project_name, task_queue=store_url) as oq:
            schedule_id = oq.schedule(scheduled_task, func_args={"name": "tick"},
                                      interval=dt.timedelta(seconds=0.3), max_runs=RUNS)
            deadline = time.monotonic() + 45
            while time.monotonic() < deadline:
                if len(oq.get_result(schedule_id=schedule_id, kind="all")) >= RUNS:
                    break
                time.sleep(0.1)
            time.sleep(1.0)  # a duplicate fire would show up now
            results = oq.get_result(schedule_id=schedule_id, kind="all")
            assert results == ["Hello, tick!"] * RUNS
            fired = [t for t in oq.list_tasks(limit=1000) if t.schedule_id == schedule_id]
            assert len(fired) == RUNS and len({t.run_at for t in fired}) == RUNS
            assert all(t.attempts == 1 and t.status == "completed" for t in fired)
            assert oq.get_schedule(schedule_id).status == "finished"
            oq.remove_schedule(schedule_id)
            oq.task_queue.delete_tasks([t.id for t in fired])
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        for proc in workers:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


# -- races between schedulers, played out step by step -----------------------------------------
@pytest.mark.anyio
async def test_a_fire_one_scheduler_skipped_is_not_stored_by_another() -> None:
    # allow_overlap=False: scheduler A skips the fire (the last run still going) and advances
    # the schedule; scheduler B read the same version, saw the last run finished meanwhile and
    # fires. B loses the version check: its task must not exist, or it runs uncounted, beside
    # the next run.
    from omniq import AsyncOmniQ
    from omniq.models import TaskStatus

    async with AsyncOmniQ(project_name="race", backend_type="memory") as oq:
        queue = oq.task_queue
        start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
        schedule_id = await oq.schedule(scheduled_task, "x", interval=1, allow_overlap=False,
                                        start_at=start)
        [first] = await queue.fire_due_schedules()
        [running] = await queue.claim(["default"], worker_id="w", lease=30,
                                      now=dt.datetime.now(dt.UTC))
        stale = await queue.get_schedule(schedule_id)  # its next fire is due
        queue.due_schedules = lambda now: _returning([stale])  # both schedulers read it
        assert await queue.fire_due_schedules() == []  # A: skipped, the last run goes on
        done = msgspec.structs.replace(running, status=TaskStatus.COMPLETED,
                                       finished_at=dt.datetime.now(dt.UTC))
        assert await queue.update_task(done, expect_status={TaskStatus.RUNNING})
        assert await queue.fire_due_schedules() == []  # B: fires, and loses to A
        assert [task.id for task in await queue.list_tasks()] == [first]


@pytest.mark.anyio
async def test_a_schedule_read_after_another_scheduler_advanced_or_paused_it_is_not_fired(
) -> None:
    # A store that reads its due index and its records apart can return a record advanced
    # (next fire not due) or paused in between: firing it stored the next fire early, and a
    # pause made after that could not stop it.
    from omniq import AsyncOmniQ

    async with AsyncOmniQ(project_name="race", backend_type="memory") as oq:
        queue = oq.task_queue
        schedule_id = await oq.schedule(scheduled_task, "x", cron_expression="* * * * *")
        ahead = await queue.get_schedule(schedule_id)
        assert ahead.next_run_at > dt.datetime.now(dt.UTC)
        queue.due_schedules = lambda now: _returning([ahead])
        assert await queue.fire_due_schedules() == []
        await oq.pause_schedule(schedule_id)
        paused = msgspec.structs.replace(await queue.get_schedule(schedule_id),
                                         next_run_at=dt.datetime.now(dt.UTC))
        queue.due_schedules = lambda now: _returning([paused])
        assert await queue.fire_due_schedules() == []
        assert await queue.list_tasks() == []


async def _returning(value: object) -> object:
    return value
