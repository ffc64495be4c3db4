"""Claim cost on SQLite with 1,000 versus 1,000,000 tasks waiting.

Standalone (not part of the test suite): ``python bench/scale_sqlite.py [--big 1000000]``.
For each depth it fills a fresh database file, then times ``claim`` through the real
``AsyncSQLiteTaskQueue`` (one task per claim, and batches of 100), the depths taking turns.
After each timed claim the tasks are put back (untimed), so the depth stays what it says.
The claim walks the partial index of runnable tasks in claim order and stops after ``limit``
rows, so its cost should not depend on the depth; the ratio printed at the end is the check
(target: within 1.5x).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sqlite3
import statistics
import tempfile
import time
from datetime import timedelta

import msgspec
from omniq._ids import new_id
from omniq._time import utcnow
from omniq.models import TaskStatus
from omniq_sqlite import AsyncSQLiteTaskQueue

replace = msgspec.structs.replace


def noop() -> None:
    return None


async def fill(queue: AsyncSQLiteTaskQueue, depth: int) -> None:
    """``depth`` pending tasks (copies of one signed template, each with its own id and eta)."""
    template = queue.build_task(noop)
    start = utcnow() - timedelta(hours=1)
    chunk = 20_000
    for base in range(0, depth, chunk):
        tasks = [
            replace(
                template, id=new_id(), run_at=start + timedelta(microseconds=i), created_at=start
            )
            for i in range(base, min(depth, base + chunk))
        ]
        await queue.add_tasks(tasks)


async def claim_once(queue: AsyncSQLiteTaskQueue, limit: int) -> float:
    """Time one claim of ``limit`` tasks, then put them back (untimed)."""
    now = utcnow()
    t0 = time.perf_counter()
    claimed = await queue.claim(["default"], worker_id="bench", lease=30.0, now=now, limit=limit)
    elapsed = time.perf_counter() - t0
    assert len(claimed) == limit
    for t in claimed:
        await queue.release(t)
    return elapsed


async def measure(depths: list[int], rounds: int, limit: int,
                  directory: str) -> dict[int, list[float]]:
    """Claim timings per depth. The depths take turns, claim by claim, so a busy machine
    slows them alike and the ratio stays fair."""
    queues = [AsyncSQLiteTaskQueue(project_name="bench",
                                   database_path=os.path.join(directory, f"depth-{d}.db"))
              for d in depths]
    try:
        for depth, queue in zip(depths, queues, strict=True):
            if await queue.count_tasks(status=TaskStatus.PENDING) != depth:
                await fill(queue, depth)
                # Copy the fill's write-ahead log into the file now, so no background
                # checkpoint of hundreds of MB runs during the measurement.
                with contextlib.closing(sqlite3.connect(queue.database_path)) as conn:
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        timings: dict[int, list[float]] = {d: [] for d in depths}
        for _ in range(rounds):
            for depth, queue in zip(depths, queues, strict=True):
                timings[depth].append(await claim_once(queue, limit))
        return timings
    finally:
        for queue in queues:
            await queue.close()


def summary(timings: list[float]) -> tuple[float, float]:
    ordered = sorted(timings)
    return statistics.median(ordered) * 1e6, ordered[int(len(ordered) * 0.99)] * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2_000)
    parser.add_argument("--dir", default=None, help="where the database files go (default: tmp)")
    args = parser.parse_args()
    depths = [args.small, args.big]
    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        for depth in depths:
            t0 = time.perf_counter()
            await measure([depth], 1, 1, directory)
            print(f"filled {depth:>9,} pending tasks in {time.perf_counter() - t0:6.1f} s")
        print(f"{'waiting':>10} {'limit':>5} {'median us':>10} {'p99 us':>8} {'us/task':>8}")
        results: dict[tuple[int, int], float] = {}
        for limit, rounds in ((1, args.rounds), (100, max(50, args.rounds // 10))):
            timings = await measure(depths, rounds, limit, directory)
            for depth in depths:
                median, p99 = summary(timings[depth])
                results[depth, limit] = median
                print(f"{depth:>10,} {limit:>5} {median:>10.1f} {p99:>8.1f} "
                      f"{median / limit:>8.1f}")
        for limit in (1, 100):
            ratio = results[args.big, limit] / results[args.small, limit]
            print(f"limit {limit:>3}: claim cost at {args.big:,} / at {args.small:,} waiting = "
                  f"{ratio:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
