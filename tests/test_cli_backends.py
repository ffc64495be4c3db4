"""The inspection commands (``status``, ``tasks``, ``schedules``, ``events``, ``dlq``) against
real backends, through click's runner: each command's ``--json`` output parsed, its filters and
its exit codes. One scenario per backend runs with a live worker, so the commands see running
throughput, worker records and the results of what they change."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from omniq import OmniQ
from omniq.cli import cli
from omniq.models import TaskStatus

BACKENDS = ["sqlite", "postgres", "redis", "nats", "file"]


def add(x: int, y: int) -> int:
    return x + y


def boom() -> None:
    raise ValueError("boom on purpose")


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path, project_name: str) -> Iterator[str]:
    """The URL of a fresh project store on each backend; dropped afterwards on servers."""
    kind = request.param
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path}/cli.db"
    elif kind == "file":
        yield f"file://{tmp_path}/files"
    elif kind == "postgres":
        from test_postgres_conformance import drop_schema

        dsn = request.getfixturevalue("postgres_dsn")
        yield dsn
        asyncio.run(drop_schema(dsn, project_name))
    elif kind == "redis":
        from test_redis_conformance import drop_project_keys

        redis_url = request.getfixturevalue("redis_url")
        yield redis_url
        asyncio.run(drop_project_keys(redis_url, project_name))
    else:
        from test_nats_conformance import drop_project_streams

        nats_url = request.getfixturevalue("nats_url")
        yield nats_url
        asyncio.run(drop_project_streams(nats_url, project_name))


class Omniq:
    """``omniq ...`` on one project through click's runner."""

    def __init__(self, url: str, project: str) -> None:
        self.where = ["--url", url, "--project", project]
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0, where: bool = True) -> Result:
        group, *rest = args
        sub: list[str] = []
        if group in ("tasks", "schedules", "dlq"):
            sub, rest = rest[:1], rest[1:]
        argv = [group, *sub, *(self.where if where else []), *rest]
        result = self.runner.invoke(cli, argv)
        assert result.exit_code == code, (argv, result.exit_code, result.output,
                                          result.stderr, result.exception)
        return result

    def json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self(*args, "--json", code=code).stdout)


def wait_until(check: Any, what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_every_inspection_command_on_a_live_project(url: str, project_name: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIQ_WORKER_HEARTBEAT", "0.2")
    omniq = Omniq(url, project_name)
    with OmniQ(project_name=project_name, task_queue=url, event_store=url) as oq:
        done = oq.enqueue(add, 1, 2, queue_name="high", name="adder", tags=["nightly"])
        failed = oq.enqueue(boom, queue_name="low")
        later = oq.enqueue(add, 3, 4, queue_name="low", run_in=3600, tags=["later"])
        hourly = oq.schedule(add, 5, 6, interval=3600, name="hourly",
                             start_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
        oq.start_worker(worker_type="thread_pool", queues=["high", "low"], max_workers=2,
                        lease=5)
        try:
            assert oq.get_result(done, timeout=20) == 3
            wait_until(lambda: oq.get_task(failed).status == TaskStatus.FAILED, "the failure")

            # -- status: depth by state, throughput, the worker ---------------------------
            def counted() -> Any:
                state = omniq.json("status")
                queues = {q["queue"]: q for q in state["queues"]}
                ok = queues["high"]["completed"]["5m"] == 1 and queues["low"]["failed"]["5m"]
                return state if ok else None

            state = wait_until(counted, "status to count the finished tasks")
            queues = {q["queue"]: q for q in state["queues"]}
            assert queues["high"]["counts"] == {"completed": 1}
            assert queues["low"]["counts"] == {"pending": 1, "failed": 1}
            assert queues["low"]["oldest_waiting"] is None  # the pending one is not due yet
            [worker] = state["workers"]
            assert worker["alive"] and worker["worker_type"] == "thread_pool"
            assert worker["concurrency"] == 2 and worker["queues"] == ["high", "low", "default"]
            assert worker["completed"] == 1 and worker["heartbeat_age"] < 5
            people = omniq("status").stdout
            assert "QUEUE" in people and "high" in people and "thread_pool" in people

            # -- tasks list and its filters ----------------------------------------------
            def listed(*filters: str) -> list[str]:
                return [t["id"] for t in omniq.json("tasks", "list", *filters)["tasks"]]

            assert listed() == [later, failed, done]  # newest first
            assert listed("--oldest-first", "--limit", "2") == [done, failed]
            page = omniq.json("tasks", "list", "--oldest-first", "--limit", "2")
            assert "payload" not in page["tasks"][0]
            assert listed("--oldest-first", "--after", page["next_after"]) == [later]
            assert listed("--status", "failed") == [failed]
            assert listed("--state", "completed", "--queue", "high") == [done]
            assert listed("--queue", "low") == [later, failed]
            assert listed("--tag", "nightly") == [done]
            assert listed("--name", "adder") == [done]
            assert listed("--name", "*:boom") == [failed]
            assert listed("--since", "1h") == [later, failed, done]
            assert listed("--until", "1h") == []
            table = omniq("tasks", "list").stdout
            assert table.splitlines()[0].split()[:3] == ["ID", "QUEUE", "STATE"]

            # -- tasks show ---------------------------------------------------------------
            shown = omniq.json("tasks", "show", done)
            assert shown["status"] == "completed" and shown["result"] == 3
            assert shown["tags"] == ["nightly"] and "payload" not in shown
            dead = omniq.json("tasks", "show", failed)
            assert dead["error"]["type"] == "ValueError"
            text = omniq("tasks", "show", failed).stdout
            assert "boom on purpose" in text and "Traceback" in text
            omniq("tasks", "show", "no-such-task", code=1)

            # -- schedules ----------------------------------------------------------------
            [listed_schedule] = omniq.json("schedules", "list")
            assert listed_schedule["id"] == hourly and listed_schedule["status"] == "active"
            assert "payload" not in listed_schedule
            assert "hourly" in omniq("schedules", "list").stdout
            assert omniq.json("schedules", "pause", hourly) == {"id": hourly, "ok": True,
                                                                 "was": "active"}
            assert omniq.json("schedules", "list", "--status", "paused")[0]["id"] == hourly
            omniq("schedules", "pause", hourly, code=1)  # already paused: refused
            omniq("schedules", "resume", hourly)
            assert omniq.json("schedules", "show", hourly)["status"] == "active"
            omniq("schedules", "delete", hourly)
            omniq("schedules", "show", hourly, code=1)
            omniq("schedules", "delete", hourly, code=1)

            # -- events -------------------------------------------------------------------
            def types_of(task_id: str) -> list[str]:
                return [e["type"] for e in omniq.json("events", "--task", task_id)]

            assert wait_until(lambda: types_of(done) == ["ENQUEUED", "EXECUTING", "COMPLETE"],
                              "the events of the completed task")
            kinds = {e["type"] for e in omniq.json("events", "--since", "1h")}
            assert {"SCHEDULE_PAUSED", "SCHEDULE_DELETED", "DEAD_LETTER"} <= kinds
            assert omniq.json("events", "--type", "dead_letter")[0]["task_id"] == failed
            lines = omniq("events", "--task", done).stdout.splitlines()
            assert [ln.split()[2] for ln in lines] == ["ENQUEUED", "EXECUTING", "COMPLETE"]
            paged = omniq("events", "--task", done, "--limit", "2")
            assert "go on with --since" in paged.stderr and "the last one printed" in \
                paged.stderr
            none = omniq("events", "--task", "no-such-task")
            assert none.stdout == "" and "No event found in this event store" in none.stderr

            # -- dead letters -------------------------------------------------------------
            assert [t["id"] for t in omniq.json("dlq", "list")["tasks"]] == [failed]
            assert omniq.json("dlq", "requeue", failed) == {"requeued": 1, "refused": []}
            wait_until(lambda: oq.get_task(failed).status == TaskStatus.FAILED
                       and oq.get_task(failed).attempts == 2, "the requeued task's second run")
            omniq("dlq", "requeue", done, code=1)  # completed: not a dead letter
            omniq("dlq", "requeue", code=2)  # neither ids nor --all

            # -- cancel and retry ---------------------------------------------------------
            assert omniq.json("tasks", "cancel", later) == [
                {"id": later, "outcome": "cancelled", "ok": True}]
            omniq("tasks", "cancel", later, code=1)  # already finished
            omniq("tasks", "cancel", "no-such-task", code=1)
            assert "requeued" in omniq("tasks", "retry", later).stdout  # cancelled: may retry
            assert oq.get_task(later).status != TaskStatus.CANCELLED
            omniq("tasks", "retry", done, code=1)  # completed: refused

            # -- purge --------------------------------------------------------------------
            assert omniq.json("dlq", "purge", "--all", "--yes") == {"purged": 1, "refused": []}
            assert omniq.json("dlq", "list")["tasks"] == []
            assert oq.get_task(failed) is None
        finally:
            oq.stop_worker()
    status = omniq.json("status")
    # A clean stop marks the record stopped, and what the worker finished still counts.
    [stopped] = status["workers"]
    assert stopped["completed"] > 0
    assert sum(q["completed"]["15m"] for q in status["queues"]) >= stopped["completed"]
    assert stopped["stopped_at"] is not None and stopped["alive"] is False
    assert "stopped" in omniq("status").stdout
