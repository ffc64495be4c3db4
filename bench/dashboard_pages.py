"""How fast the dashboard's pages load with many tasks stored (1,000,000 by default).

    .venv/bin/python bench/dashboard_pages.py [--backend sqlite|postgres] [--tasks 1000000]

Stores the tasks through the API's bulk enqueue (``enqueue_many``, 10,000 a call, over three
queues; a few made dead letters by hand), then requests each page through the app
in this process (no network) and prints the median and worst of ``--loads`` loads. SQLite
writes to a temporary directory; PostgreSQL (127.0.0.1:5432, database ``test``) to a schema of
its own, dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
from omniq import AsyncOmniQ
from omniq.models import ErrorInfo, TaskStatus
from omniq.testing._tasks import noop
from omniq_dashboard import create_app

BATCH = 10_000
QUEUES = ("high", "default", "low")


async def fill(oq: AsyncOmniQ, tasks: int) -> tuple[str, str, float]:
    """Store ``tasks`` tasks; returns the last id, one from the middle (of queue ``low``) and
    the seconds it took."""
    started = time.perf_counter()
    done = 0
    middle = ""
    while done < tasks:
        n = min(BATCH, tasks - done)
        queue = QUEUES[done // BATCH % 3]
        ids = await oq.enqueue_many(noop, range(n), queue_name=queue)
        if not middle and done >= tasks // 2 and queue == "low":
            middle = ids[0]
        done += n
        if done % 100_000 < BATCH:
            print(f"  {done:,} stored ({done / (time.perf_counter() - started):,.0f}/s)",
                  flush=True)
    # A few dead letters, written as a worker would leave them.
    queue = oq.task_queue
    for task_id in ids[:: max(1, len(ids) // 10)]:
        task = await queue.get_task(task_id)
        assert task is not None
        dead = queue.failed(task, ErrorInfo("ValueError", "made for the benchmark"),
                            task.created_at)
        await queue.update_task(dead, expect_status={TaskStatus.PENDING})
    return ids[-1], middle or ids[0], time.perf_counter() - started


async def measure(app: Any, paths: list[str], loads: int) -> list[tuple[str, float, float]]:
    rows = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://dashboard") as http:
        for path in paths:
            times = []
            for _ in range(loads):
                started = time.perf_counter()
                response = await http.get(path)
                times.append(time.perf_counter() - started)
                assert response.status_code == 200, (path, response.status_code)
            rows.append((path, statistics.median(times), max(times)))
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgres"))
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    project = f"dashbench{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as where:
        options = {"base_dir": where} if args.backend == "sqlite" else \
            {"url": "postgresql://postgres@127.0.0.1:5432/test"}
        try:
            async with AsyncOmniQ(project_name=project, backend_type=args.backend,
                                  queues=QUEUES, **options) as oq:
                print(f"storing {args.tasks:,} tasks on {args.backend}...", flush=True)
                task_id, middle, seconds = await fill(oq, args.tasks)
                await oq.schedule(noop, interval=timedelta(hours=1), name="hourly")
                print(f"stored in {seconds:.0f} s ({args.tasks / seconds:,.0f}/s)")
                app = create_app(oq, actions=True)
                paths = ["/", "/tasks", f"/tasks?after={middle}",
                         "/tasks?queue=low&status=pending",
                         f"/tasks?queue=low&status=pending&after={middle}",
                         "/tasks?tag=none-has-it", "/dead-letters", f"/tasks/{task_id}",
                         "/schedules", "/workers", "/charts", "/metrics"]
                rows = await measure(app, paths, args.loads)
                await app.state.dashboard.shutdown()
        finally:
            if args.backend == "postgres":
                import asyncpg

                conn = await asyncpg.connect(options["url"])
                await conn.execute(f'DROP SCHEMA IF EXISTS "omniq_{project}" CASCADE')
                await conn.close()
    print(f"\n{args.tasks:,} tasks on {args.backend}; {args.loads} loads per page\n")
    print("| page | median | worst |")
    print("|---|---|---|")
    for path, median, worst in rows:
        print(f"| `{path}` | {median * 1000:,.0f} ms | {worst * 1000:,.0f} ms |")


if __name__ == "__main__":
    asyncio.run(main())
