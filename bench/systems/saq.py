"""SAQ, on Redis and on its PostgreSQL queue.

The worker is SAQ's own CLI (``saq systems.saq.settings --workers 1``) with ``concurrency`` set
to the bench's; everything else at SAQ's defaults (on Postgres: LISTEN/NOTIFY dequeue, no
polling). SAQ has no bulk enqueue. Results: ``Job.refresh(until_complete=...)``, which waits on
Redis pub/sub; on Postgres SAQ's ``Queue.listen`` polls the job rows, at the bench's common
result poll interval (its default is 0.5 s).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from saq import Queue
from saq.job import Status

from ._base import RESULT_POLL_S, BenchEnv, System, dist_versions, redis_flush_own_db, venv_script

_env = BenchEnv.from_environ()


async def noop(ctx: dict[str, Any]) -> int:
    return 1


async def sleep10(ctx: dict[str, Any]) -> int:
    await asyncio.sleep(0.01)
    return 1


def make_queue(engine: str) -> Queue:
    if engine == "postgres":
        return Queue.from_url(_env.pg_dsn, name=_env.ns)
    return Queue.from_url(_env.redis_url, name=_env.ns)


def settings() -> dict[str, Any]:
    """Worker settings for ``saq systems.saq.settings`` (engine and concurrency from env)."""
    return {
        "queue": make_queue(os.environ.get("BENCH_SAQ_ENGINE", "redis")),
        "functions": [noop, sleep10],
        "concurrency": int(os.environ.get("BENCH_CONCURRENCY", "10")),
    }


class _SAQ(System):
    async_tasks = True

    async def open(self) -> None:
        self.queue = make_queue(self.engine)
        await self.queue.connect()

    async def close(self) -> None:
        await self.queue.disconnect()

    def versions(self) -> dict[str, str]:
        if self.engine == "postgres":
            return dist_versions("saq", "psycopg", "psycopg-pool")
        return dist_versions("saq", "redis", "hiredis")

    def settings(self, concurrency: int) -> dict[str, str]:
        wait = (
            f"Queue.listen(poll_interval={RESULT_POLL_S}) (polls job rows)"
            if self.engine == "postgres"
            else "Job.refresh(until_complete=...) (Redis pub/sub)"
        )
        return {
            "worker": f"saq --workers 1, concurrency={concurrency}",
            "result wait": wait,
        }

    async def enqueue(self, kind: str) -> Any:
        return await self.queue.enqueue("noop" if kind == "noop" else "sleep10")

    async def wait_result(self, handle: Any, timeout: float) -> Any:
        if self.engine == "postgres":

            def done(_id: str, status: Status) -> bool:
                return status in (Status.COMPLETE, Status.FAILED, Status.ABORTED)

            await self.queue.listen([handle.key], done, timeout, poll_interval=RESULT_POLL_S)
            await handle.refresh()
        else:
            try:
                await handle.refresh(until_complete=timeout)
            except TimeoutError:
                await handle.refresh()
                raise TimeoutError(
                    f"Job.refresh(until_complete={timeout}) timed out; the job is now "
                    f"{handle.status.value} (if complete, its pub/sub notice was missed)"
                ) from None
        if handle.status != Status.COMPLETE:
            raise RuntimeError(f"job {handle.key} ended {handle.status}: {handle.error}")
        return handle.result

    async def done_flags(self, handles: list[Any]) -> list[bool]:
        jobs = await self.queue.jobs([h.key for h in handles])
        return [j is not None and j.status == Status.COMPLETE for j in jobs]

    def worker_argv(self, concurrency: int) -> list[str]:
        return [venv_script("saq"), "systems.saq.settings", "--workers", "1", "--quiet"]

    def worker_env(self) -> dict[str, str]:
        return {"BENCH_SAQ_ENGINE": self.engine}


class SAQRedisSystem(_SAQ):
    name = "saq"
    engine = "redis"

    async def reset(self) -> None:
        redis_flush_own_db(self.env.redis_url)


class SAQPostgresSystem(_SAQ):
    name = "saq-postgres"
    engine = "postgres"

    async def reset(self) -> None:
        async with self.queue.pool.connection() as conn:
            await conn.execute("TRUNCATE saq_jobs, saq_stats")


ROWS = {"saq": SAQRedisSystem, "saq-postgres": SAQPostgresSystem}
