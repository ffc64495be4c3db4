"""arq on Redis.

The worker runs from a ``WorkerSettings`` class with ``max_jobs`` set to the bench's concurrency
and ``poll_delay`` lowered from its 0.5 s default to the bench's common worker poll interval
(1 ms): arq's worker sleeps ``poll_delay`` between reads of its queue, so at the default it
could not start more than ``queue_read_limit`` jobs per half second, nor pick up a task on an
idle queue in less than 250 ms on average. arq has no bulk enqueue. Results are awaited with
``Job.result()``, which polls; its interval is the bench's common result poll interval.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from arq import create_pool
from arq.connections import RedisSettings
from arq.constants import result_key_prefix

from ._base import (
    RESULT_POLL_S,
    WORKER_POLL_S,
    BenchEnv,
    System,
    dist_versions,
    redis_flush_own_db,
    venv_script,
)

_env = BenchEnv.from_environ()
REDIS = RedisSettings.from_dsn(_env.redis_url)
POLL_DELAY = WORKER_POLL_S


async def noop(ctx: dict[str, Any]) -> int:
    return 1


async def sleep10(ctx: dict[str, Any]) -> int:
    await asyncio.sleep(0.01)
    return 1


class WorkerSettings:
    functions = [noop, sleep10]
    redis_settings = REDIS
    queue_name = _env.ns
    max_jobs = int(os.environ.get("BENCH_CONCURRENCY", "10"))
    poll_delay = POLL_DELAY
    keep_result = 3600
    handle_signals = True


#: Logging at WARNING, like every row (arq's default logs two INFO lines per job).
LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler", "level": "WARNING"}},
    "loggers": {"arq": {"handlers": ["stderr"], "level": "WARNING"}},
}


class ArqSystem(System):
    name = "arq"
    engine = "redis"
    async_tasks = True

    async def open(self) -> None:
        self.pool = await create_pool(REDIS, default_queue_name=self.queue_name)

    async def close(self) -> None:
        await self.pool.aclose()

    def versions(self) -> dict[str, str]:
        return dist_versions("arq", "redis", "hiredis")

    def settings(self, concurrency: int) -> dict[str, str]:
        return {
            "worker": f"arq WorkerSettings: max_jobs={concurrency}, poll_delay={POLL_DELAY}",
            "result wait": f"Job.result(poll_delay={RESULT_POLL_S})",
        }

    async def reset(self) -> None:
        redis_flush_own_db(self.env.redis_url)

    async def enqueue(self, kind: str) -> Any:
        job = await self.pool.enqueue_job("noop" if kind == "noop" else "sleep10")
        if job is None:
            raise RuntimeError("arq refused the job (duplicate id)")
        return job

    async def wait_result(self, handle: Any, timeout: float) -> Any:
        return await handle.result(timeout=timeout, poll_delay=RESULT_POLL_S)

    async def done_flags(self, handles: list[Any]) -> list[bool]:
        # One MGET over the result keys (Job.result_info costs a round trip per job).
        values = await self.pool.mget([result_key_prefix + h.job_id for h in handles])
        return [v is not None for v in values]

    def worker_argv(self, concurrency: int) -> list[str]:
        return [
            venv_script("arq"), "--custom-log-dict", "systems.arq.LOG_CONFIG",
            "systems.arq.WorkerSettings",
        ]  # fmt: skip


ROWS = {"arq": ArqSystem}
