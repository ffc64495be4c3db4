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
