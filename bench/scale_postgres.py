"""Claim cost on the PostgreSQL backend with 1,000 versus 1,000,000 tasks waiting.

Standalone (not part of the test suite)::

    python bench/scale_postgres.py [--dsn postgresql://postgres@127.0.0.1:5432/test]
                                   [--depths 1000,1000000] [--claims 1000]

For each depth it fills a fresh project (its own schema, dropped at the end) with that many
pending tasks, then times ``claim`` (the worker's call: one statement) for ``--claims`` rounds
of ``limit=1`` and of ``limit=10``; between claims (untimed) the claimed tasks are completed as
a worker completes them and as many new ones are enqueued, so the depth stays put. The worker
serves two queues, ``high`` (empty) and ``default`` (the backlog), so each claim also probes a
queue with nothing in it.

It also times, at each depth, the three ways of claiming across an ordered list of queues
that the design considered, by their server-side execution time (EXPLAIN ANALYZE):

* ``lateral`` (ours): one statement, each queue read through the partial index in order;
* ``array_position``: one statement ordering by ``array_position($queues, queue)``, which
  cannot use the index order and sorts every runnable row;
* ``per_queue``: one statement per queue, in order (index friendly, but a round trip per
  empty queue).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import UTC, datetime

import msgspec
from omniq._ids import new_id
from omniq_postgres import AsyncPostgresTaskQueue

FILL_CHUNK = 10_000
DEFAULT_DSN = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


async def noop() -> None:
    """The task every waiting entry would run (never run here)."""


async def fill(queue: AsyncPostgresTaskQueue, depth: int) -> float:
    """Store ``depth`` pending tasks (copies of one signed task with fresh ids)."""
    template = queue.build_task(noop)
    started = time.perf_counter()
    for start in range(0, depth, FILL_CHUNK):
        batch = [
            msgspec.structs.replace(template, id=new_id())
            for _ in range(min(FILL_CHUNK, depth - start))
        ]
        await queue.add_tasks(batch)
    return time.perf_counter() - started


async def claim_rounds(queue: AsyncPostgresTaskQueue, rounds: int, limit: int) -> list[float]:
    """Seconds per claim call. Each claimed task is completed as a worker would complete it,
    and replaced by a new one (untimed), so the backlog keeps its depth."""
    template = queue.build_task(noop)
    times = []
    for _ in range(rounds):
        now = datetime.now(UTC)
        started = time.perf_counter()
        tasks = await queue.claim(
            ["high", "default"], worker_id="bench", lease=30, now=now, limit=limit
        )
        times.append(time.perf_counter() - started)
        assert len(tasks) == limit, "backlog ran out"
        done = datetime.now(UTC)
        await queue.finish([(queue.completed(t, done), t.attempts) for t in tasks])
        await queue.add_tasks(
            [msgspec.structs.replace(template, id=new_id()) for _ in range(limit)]
        )
    return times


ALTERNATIVES = {
    "array_position": """
        EXPLAIN (ANALYZE, FORMAT JSON)
        SELECT id FROM {t} WHERE queue = ANY ($1::text[]) AND status IN ('pending', 'retrying')
          AND run_at <= $2
        ORDER BY array_position($1::text[], queue), priority DESC, run_at, id
        LIMIT 10 FOR UPDATE SKIP LOCKED""",
    "per_queue": """
        EXPLAIN (ANALYZE, FORMAT JSON)
        SELECT id FROM {t} WHERE queue = ($1::text[])[2] AND status IN ('pending', 'retrying')
          AND run_at <= $2
        ORDER BY priority DESC, run_at, id LIMIT 10 FOR UPDATE SKIP LOCKED""",
    "lateral": """
        EXPLAIN (ANALYZE, FORMAT JSON)
        SELECT c.id FROM unnest($1::text[]) WITH ORDINALITY AS q(name, pos)
        CROSS JOIN LATERAL (
            SELECT t.id, t.priority, t.run_at FROM {t} t
            WHERE t.queue = q.name AND t.status IN ('pending', 'retrying') AND t.run_at <= $2
            ORDER BY t.priority DESC, t.run_at, t.id LIMIT 10 FOR UPDATE SKIP LOCKED) c
        ORDER BY q.pos, c.priority DESC, c.run_at, c.id LIMIT 10""",
}


async def alternatives(queue: AsyncPostgresTaskQueue) -> dict[str, float]:
    """Server-side milliseconds of each formulation (median of 5), in a rolled-back
    transaction so nothing stays locked."""
    db = await queue._db()
    table = f'"{queue.schema}".omniq_tasks'
    out = {}
    async with db.pool.acquire() as conn:
        for name, sql in ALTERNATIVES.items():
            runs = []
            for _ in range(5):
                tx = conn.transaction()
                await tx.start()
                plan = await conn.fetchval(sql.format(t=table), ["high", "default"], time.time())
                await tx.rollback()
                runs.append(msgspec.json.decode(plan)[0]["Execution Time"])
            out[name] = statistics.median(runs)
    return out


def _us(values: list[float]) -> str:
    values = sorted(values)
    p50 = values[len(values) // 2] * 1e6
    p99 = values[int(len(values) * 0.99) - 1] * 1e6
    return f"p50 {p50:7.0f} us  p99 {p99:7.0f} us  mean {statistics.mean(values) * 1e6:7.0f} us"


async def run(dsn: str, depths: list[int], claims: int) -> int:
    results = {}
    for depth in depths:
        project = f"scale{depth}_{os.getpid()}"
        queue = AsyncPostgresTaskQueue(project_name=project, url=dsn, queues=["high"])
        try:
            async with queue:
                seconds = await fill(queue, depth)
                db = await queue._db()
                await db.execute(f'VACUUM ANALYZE "{queue.schema}".omniq_tasks')
                print(
                    f"depth {depth:>9,}: filled in {seconds:5.1f} s "
                    f"({depth / seconds:,.0f} tasks/s bulk)",
                    flush=True,
                )
                await claim_rounds(queue, 50, 1)  # warm the plan cache and the pool
                one = await claim_rounds(queue, claims, 1)
                ten = await claim_rounds(queue, max(claims // 10, 10), 10)
                alt = await alternatives(queue)
                results[depth] = (one, ten, alt)
                print(f"  claim limit=1 : {_us(one)}")
                print(f"  claim limit=10: {_us(ten)}")
                print(
                    "  server time of claim formulations (10 rows, 2 queues): "
                    + ", ".join(f"{k} {v:.3f} ms" for k, v in alt.items()),
                    flush=True,
                )
        finally:
            async with AsyncPostgresTaskQueue(project_name=project, url=dsn) as q:
                await (await q._db()).execute(f'DROP SCHEMA IF EXISTS "{q.schema}" CASCADE')
    if len(depths) >= 2:
        small, large = depths[0], depths[-1]
        ratio1 = statistics.median(results[large][0]) / statistics.median(results[small][0])
        ratio10 = statistics.median(results[large][1]) / statistics.median(results[small][1])
        print(
            f"\nclaim cost at {large:,} / at {small:,} waiting (median): "
            f"limit=1 {ratio1:.2f}x, limit=10 {ratio10:.2f}x (target <= 1.5x)"
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    parser.add_argument("--depths", default="1000,1000000")
    parser.add_argument("--claims", type=int, default=1000)
    args = parser.parse_args()
    os.environ.setdefault("OMNIQ_SECRET_KEY", "bench-scale-postgres")
    depths = [int(d) for d in args.depths.split(",")]
    return asyncio.run(run(args.dsn, depths, args.claims))


if __name__ == "__main__":
    sys.exit(main())
