"""Redis backend figures, standalone (not part of the test suite).

``python bench/scale_redis.py scale``: the cost of one claim with 1,000 and with 1,000,000
tasks waiting in the queue (Lua over sorted sets: it should not grow with depth).

``python bench/scale_redis.py e2e``: enqueue 10,000 no-op tasks one by one and 10,000 in bulk,
then one worker process (``omniq worker``, async, concurrency 10) drains the 20,000; then 200
tasks sent one after another to the idle worker, each waiting for its result (p50/p99 in ms).

Both use their own project name on ``--url`` (default ``redis://127.0.0.1:6379/0``) and delete
its keys afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid

os.environ.setdefault("OMNIQ_SECRET_KEY", "bench-secret")

import msgspec  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402
from omniq import AsyncOmniQ  # noqa: E402
from omniq._ids import new_id  # noqa: E402
from omniq._time import utcnow  # noqa: E402
from omniq.testing import _tasks  # noqa: E402
from omniq_redis import AsyncRedisResultStore, AsyncRedisTaskQueue  # noqa: E402


async def drop(url: str, project: str) -> None:
    client = aioredis.from_url(url)
    batch: list[bytes] = []
    async for key in client.scan_iter(match=f"omniq:{{{project}}}:*", count=10_000):
        batch.append(key)
        if len(batch) >= 10_000:
            await client.unlink(*batch)
            batch.clear()
    if batch:
        await client.unlink(*batch)
    await client.aclose()


# -- claim cost against depth --------------------------------------------------------------------
async def fill(queue: AsyncRedisTaskQueue, n: int) -> None:
    """Store ``n`` waiting tasks quickly: one signed task, copied under fresh ids."""
    template = queue.build_task(_tasks.noop)
    done = 0
    while done < n:
        chunk = min(10_000, n - done)
        await queue.add_tasks([msgspec.structs.replace(template, id=new_id())
                               for _ in range(chunk)])
        done += chunk


async def scale(url: str, claims: int = 1000) -> None:
    """Claims alternate between a queue 1,000 deep and one 1,000,000 deep (so drift in the
    machine's load hits both alike); medians of the client-side time per claim call."""
    print(f"claim cost with depth (median of {claims} claims each, alternating):")
    for limit in (1, 10):
        queues = {}
        try:
            for depth in (1_000, 1_000_000):
                project = f"bench{uuid.uuid4().hex[:10]}"
                queue = AsyncRedisTaskQueue(project_name=project, url=url)
                await queue.connect()
                await fill(queue, depth + claims * limit)
                queues[depth] = queue
            samples: dict[int, list[float]] = {depth: [] for depth in queues}
            for _ in range(claims):
                for depth, queue in queues.items():
                    start = time.perf_counter()
                    got = await queue.claim(["default"], worker_id="bench", lease=60,
                                            now=utcnow(), limit=limit)
                    samples[depth].append(time.perf_counter() - start)
                    assert len(got) == limit
            small, large = (statistics.median(samples[d]) for d in (1_000, 1_000_000))
            print(f"  limit {limit:>2}: 1,000 waiting {small * 1e6:5.0f} us   "
                  f"1,000,000 waiting {large * 1e6:5.0f} us   ratio {large / small:.2f}")
        finally:
            for queue in queues.values():
                await queue.close()
                await drop(url, queue.project_name)


# -- end to end ----------------------------------------------------------------------------------
def start_worker(url: str, project: str, concurrency: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "omniq", "worker", "--url", url, "--project", project,
         "--type", "async", "--concurrency", str(concurrency)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})


async def wait_done(queue: AsyncRedisTaskQueue, n: int) -> tuple[float, float]:
    """(time of the first completion seen, time all ``n`` were completed)."""
    first = None
    while True:
        done = await queue.count_tasks(status="completed")  # type: ignore[arg-type]
        now = time.perf_counter()
        if done and first is None:
            first = now
        if done >= n:
            return first or now, now
        await asyncio.sleep(0.005)


async def e2e(url: str, n: int, concurrency: int) -> None:
    project = f"bench{uuid.uuid4().hex[:10]}"
    oq = AsyncOmniQ(project_name=project,
                    task_queue=AsyncRedisTaskQueue(project_name=project, url=url),
                    result_store=AsyncRedisResultStore(project_name=project, url=url))
    worker = None
    try:
        async with oq:
            start = time.perf_counter()
            for _ in range(n):
                await oq.enqueue(_tasks.noop)
            one_by_one = n / (time.perf_counter() - start)
            start = time.perf_counter()
            await oq.enqueue_many(_tasks.noop, [() for _ in range(n)])
            bulk = n / (time.perf_counter() - start)
            print(f"enqueue: one by one {one_by_one:,.0f}/s   bulk {bulk:,.0f}/s")
            worker = start_worker(url, project, concurrency)
            launched = time.perf_counter()
            first, last = await wait_done(oq.task_queue, 2 * n)
            print(f"drain of {2 * n:,} no-ops by one worker process: "
                  f"{(2 * n - 1) / (last - first):,.0f}/s "
                  f"(first completion {first - launched:.2f} s after launch)")
            latencies = []
            for _ in range(20):  # warm-up
                await oq.get_result(await oq.enqueue(_tasks.noop), timeout=10)
            for _ in range(200):
                t0 = time.perf_counter()
                await oq.get_result(await oq.enqueue(_tasks.noop), timeout=10)
                latencies.append(time.perf_counter() - t0)
            latencies.sort()
            print(f"latency enqueue->result, 200 sequential: p50 {latencies[99] * 1e3:.2f} ms   "
                  f"p99 {latencies[197] * 1e3:.2f} ms")
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(10)
        await drop(url, project)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["scale", "e2e", "all"], nargs="?", default="all")
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    if args.what in ("scale", "all"):
        asyncio.run(scale(args.url))
    if args.what in ("e2e", "all"):
        asyncio.run(e2e(args.url, args.tasks, args.concurrency))


if __name__ == "__main__":
    main()
