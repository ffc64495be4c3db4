"""procrastinate on PostgreSQL (psycopg 3 connector).

The worker is procrastinate's CLI with ``--concurrency`` set to the bench's; everything else at
its defaults, which are its docs' recommendation for throughput (LISTEN/NOTIFY wakes the worker,
polling only as a fallback every 5 s). Bulk enqueue is ``Task.batch_defer_async``.
procrastinate stores no results: "done" is the job's status ``succeeded``, read with
``JobManager.get_job_status_async`` (polled at the bench's common result interval) or counted
in its jobs table.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import procrastinate
from procrastinate.jobs import Status

from ._base import RESULT_POLL_S, BenchEnv, System, dist_versions, venv_script

_env = BenchEnv.from_environ()

app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=_env.pg_dsn))


@app.task(name="bench.noop", queue=_env.ns)
async def noop() -> int:
    return 1


@app.task(name="bench.sleep", queue=_env.ns)
async def sleep10() -> int:
    await asyncio.sleep(0.01)
    return 1


_TASKS = {"noop": noop, "sleep": sleep10}


class ProcrastinateSystem(System):
    name = "procrastinate"
    engine = "postgres"
    supports_bulk = True
    bulk_api = "Task.batch_defer_async(...)"
    async_tasks = True

    async def open(self) -> None:
        await app.open_async()
        row = await app.connector.execute_query_one_async(
            "SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS present"
        )
        if not row["present"]:
            await app.schema_manager.apply_schema_async()

    async def close(self) -> None:
        await app.close_async()

    def versions(self) -> dict[str, str]:
        return dist_versions("procrastinate", "psycopg", "psycopg-pool")

    def settings(self, concurrency: int) -> dict[str, str]:
        return {
            "worker": f"procrastinate worker --concurrency {concurrency} (LISTEN/NOTIFY)",
            "result wait": f"get_job_status_async polled every {RESULT_POLL_S} s (no results)",
            "completion signal": "count of succeeded jobs",
        }

    async def reset(self) -> None:
        await app.connector.execute_query_async(
            "TRUNCATE procrastinate_jobs, procrastinate_events, "
            "procrastinate_periodic_defers CASCADE"
        )

    async def enqueue(self, kind: str) -> Any:
        return await _TASKS[kind].defer_async()

    async def enqueue_bulk(self, kind: str, n: int) -> list[Any]:
        return await _TASKS[kind].batch_defer_async(*({} for _ in range(n)))

    async def wait_result(self, handle: Any, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            status = await app.job_manager.get_job_status_async(handle)
            if status == Status.SUCCEEDED:
                return 1  # procrastinate keeps no return value; the task returns 1
            if status in (Status.FAILED, Status.CANCELLED, Status.ABORTED):
                raise RuntimeError(f"job {handle} ended {status}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {handle} not done within {timeout} s")
            await asyncio.sleep(RESULT_POLL_S)

    async def done_count(self) -> int | None:
        row = await app.connector.execute_query_one_async(
            "SELECT count(*) AS n FROM procrastinate_jobs "
            "WHERE queue_name = %(queue)s AND status = 'succeeded'",
            queue=self.queue_name,
        )
        return int(row["n"])

    def worker_argv(self, concurrency: int) -> list[str]:
        return [
            venv_script("procrastinate"), "--app", "systems.procrastinate.app",
            "--log-level", "warning", "worker", "--concurrency", str(concurrency),
            "--queues", self.queue_name,
        ]  # fmt: skip


ROWS = {"procrastinate": ProcrastinateSystem}
