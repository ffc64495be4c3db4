"""Claim cost of the file backend with 1,000 versus 100,000 tasks waiting.

Standalone (not part of the test suite)::

    python bench/scale_file.py                      # a local directory (a temporary one)
    python bench/scale_file.py --url memory://scale
    python bench/scale_file.py --s3 --big 10000     # S3: moto's server on a loopback port

For each depth it fills a fresh project, then times ``claim`` through the real
``AsyncFileTaskQueue`` (one task per claim, and batches of 10), the depths taking turns claim
by claim, so a busy machine slows them alike. After each timed claim the tasks are released
(untimed), so the depth stays what it says. The ratio printed at the end is the check (target:
within 1.5x). A claim reads the head of the queue's ``ready/`` folder from a listing kept in
memory (inotify on a local directory, the store's own index on memory://) or from the first
page of an S3 listing, so it should not depend on the depth.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

os.environ.setdefault("OMNIQ_SECRET_KEY", "bench-secret")

import msgspec  # noqa: E402
from omniq._ids import new_id  # noqa: E402
from omniq._time import utcnow  # noqa: E402
from omniq.testing import _tasks  # noqa: E402
from omniq_fsspec import AsyncFileTaskQueue  # noqa: E402
from omniq_fsspec._stores import open_store  # noqa: E402

replace = msgspec.structs.replace


async def fill(queue: AsyncFileTaskQueue, depth: int) -> None:
    """``depth`` pending tasks, due (copies of one signed task, each with its own id and eta)."""
    template = queue.build_task(_tasks.noop)
    start = utcnow() - timedelta(hours=1)
    chunk = 2_000
    for base in range(0, depth, chunk):
        await queue.add_tasks([
            replace(template, id=new_id(), run_at=start + timedelta(microseconds=i),
                    created_at=start)
            for i in range(base, min(depth, base + chunk))
        ])


async def claim_once(queue: AsyncFileTaskQueue, limit: int) -> float:
    """Time one claim of ``limit`` tasks, then release them (untimed)."""
    now = utcnow()
    began = time.perf_counter()
    claimed = await queue.claim(["default"], worker_id="bench", lease=30.0, now=now,
                                limit=limit)
    elapsed = time.perf_counter() - began
    assert len(claimed) == limit, (len(claimed), limit)
    for task in claimed:
        await queue.release(task)
    return elapsed


@contextlib.contextmanager
def location(args: argparse.Namespace) -> Iterator[tuple[str, dict[str, Any]]]:
    if args.s3:
        from _moto import BUCKET, moto_server, s3_options

        with moto_server() as endpoint:
            yield f"s3://{BUCKET}/scale", s3_options(endpoint)
    elif args.url:
        yield args.url, {}
    else:
        with tempfile.TemporaryDirectory(dir=args.dir) as directory:
            yield directory, {}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=1_000)
    parser.add_argument("--url", help="an fsspec URL (default: a temporary local directory)")
    parser.add_argument("--dir", help="where the temporary directory goes")
    parser.add_argument("--s3", action="store_true", help="S3 through moto's server")
    args = parser.parse_args()
    depths = [args.small, args.big]
    with location(args) as (url, options):
        projects = {d: f"scale-{d}-{uuid.uuid4().hex[:6]}" for d in depths}
        queues = {d: AsyncFileTaskQueue(project_name=projects[d], url=url,
                                        storage_options=options) for d in depths}
        try:
            for depth in depths:
                began = time.perf_counter()
                await fill(queues[depth], depth)
                await claim_once(queues[depth], 1)  # the first claim lists the folder once
                print(f"filled {depth:>9,} pending tasks in {time.perf_counter() - began:6.1f} s")
            print(f"{'waiting':>10} {'limit':>5} {'median us':>10} {'p99 us':>8} {'us/task':>8}")
            medians: dict[tuple[int, int], float] = {}
            for limit, rounds in ((1, args.rounds), (10, max(20, args.rounds // 5))):
                timings: dict[int, list[float]] = {d: [] for d in depths}
                for _ in range(rounds):
                    for depth in depths:
                        timings[depth].append(await claim_once(queues[depth], limit))
                for depth in depths:
                    ordered = sorted(timings[depth])
                    median = statistics.median(ordered) * 1e6
                    medians[depth, limit] = median
                    print(f"{depth:>10,} {limit:>5} {median:>10.1f} "
                          f"{ordered[int(len(ordered) * 0.99)] * 1e6:>8.1f} {median / limit:>8.1f}")
            for limit in (1, 10):
                ratio = medians[args.big, limit] / medians[args.small, limit]
                print(f"limit {limit:>2}: claim cost at {args.big:,} / at {args.small:,} waiting "
                      f"= {ratio:.2f}x")
        finally:
            for depth, queue in queues.items():
                await queue.close()
                open_store(f"{url.rstrip('/')}/{projects[depth]}", options).remove_all()


if __name__ == "__main__":
    asyncio.run(main())
