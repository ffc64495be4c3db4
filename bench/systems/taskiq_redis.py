"""taskiq with taskiq-redis: ``RedisStreamBroker`` and ``RedisAsyncResultBackend``.

The broker and backend are the ones taskiq-redis's README shows (streams, with acks). The worker
is taskiq's CLI with one worker process (``--workers 1``) and ``--max-async-tasks`` set to the
bench's concurrency; other settings at their defaults. taskiq has no bulk enqueue. Results are
awaited with ``TaskiqResult.wait_result``, which polls, at the bench's common interval.
"""

from __future__ import annotations

import asyncio
from typing import Any

from taskiq_redis import RedisAsyncResultBackend, RedisStreamBroker

from ._base import RESULT_POLL_S, BenchEnv, System, dist_versions, redis_flush_own_db, venv_script

_env = BenchEnv.from_environ()

result_backend: RedisAsyncResultBackend[Any] = RedisAsyncResultBackend(
    redis_url=_env.redis_url, result_ex_time=3600
)
broker = RedisStreamBroker(url=_env.redis_url, queue_name=_env.ns).with_result_backend(
    result_backend
)


@broker.task(task_name="bench.noop")
async def noop() -> int:
    return 1


@broker.task(task_name="bench.sleep")
async def sleep10() -> int:
    await asyncio.sleep(0.01)
    return 1


_TASKS = {"noop": noop, "sleep": sleep10}


class TaskiqRedisSystem(System):
    name = "taskiq-redis"
    engine = "redis"
    async_tasks = True

    async def open(self) -> None:
        await broker.startup()

    async def close(self) -> None:
        await broker.shutdown()

    def versions(self) -> dict[str, str]:
        return dist_versions("taskiq", "taskiq-redis", "redis", "hiredis")

    def settings(self, concurrency: int) -> dict[str, str]:
        return {
            "worker": f"taskiq worker --workers 1 --max-async-tasks {concurrency}",
            "broker": "RedisStreamBroker (xread_count=100) + RedisAsyncResultBackend",
            "result wait": f"wait_result(check_interval={RESULT_POLL_S})",
        }

    async def reset(self) -> None:
        redis_flush_own_db(self.env.redis_url)
        # The flush removed the stream's consumer group; declare it again, as startup does.
        await broker.shutdown()
        await broker.startup()

    async def enqueue(self, kind: str) -> Any:
        return await _TASKS[kind].kiq()

    async def wait_result(self, handle: Any, timeout: float) -> Any:
        result = await handle.wait_result(check_interval=RESULT_POLL_S, timeout=timeout)
        if result.is_err:
            raise RuntimeError(f"task failed: {result.error}")
        return result.return_value

    async def done_flags(self, handles: list[Any]) -> list[bool]:
        return list(await asyncio.gather(*(h.is_ready() for h in handles)))

    def worker_argv(self, concurrency: int) -> list[str]:
        return [
            venv_script("taskiq"), "worker", "systems.taskiq_redis:broker",
            "--workers", "1", "--max-async-tasks", str(concurrency),
            "--log-level", "WARNING",
        ]  # fmt: skip


ROWS = {"taskiq-redis": TaskiqRedisSystem}
