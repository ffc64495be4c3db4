"""Dramatiq on Redis, with the Results middleware on Redis.

Throughput settings from Dramatiq's docs: one process (``--processes 1``) with ``--threads`` set
to the bench's concurrency; the default middleware stack plus ``Results`` (needed to wait for a
result) and ``AsyncIO`` (so the 10 ms task is a real ``async def`` actor). Bulk is
``group(...).run()``, which sends the messages one by one: Dramatiq has no bulk enqueue.
Results are waited for with ``Message.get_result(block=True)`` (BRPOPLPUSH, no polling).
"""

from __future__ import annotations

import asyncio
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware.asyncio import AsyncIO
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend

from ._base import BenchEnv, System, dist_versions, redis_flush_own_db, venv_script

_env = BenchEnv.from_environ()

result_backend = RedisBackend(url=_env.redis_url, namespace=f"{_env.ns}-results")
broker = RedisBroker(url=_env.redis_url, namespace=_env.ns)
broker.add_middleware(Results(backend=result_backend))
broker.add_middleware(AsyncIO())
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name=_env.ns, store_results=True, max_retries=0)
def noop() -> int:
    return 1


@dramatiq.actor(queue_name=_env.ns, store_results=True, max_retries=0)
async def sleep10() -> int:
    await asyncio.sleep(0.01)
    return 1


_ACTORS = {"noop": noop, "sleep": sleep10}


class DramatiqSystem(System):
    name = "dramatiq"
    engine = "redis"
    supports_bulk = True
    bulk_api = "group(...).run() (sends one by one)"
    async_tasks = True

    def versions(self) -> dict[str, str]:
        return dist_versions("dramatiq", "redis", "hiredis")

    def settings(self, concurrency: int) -> dict[str, str]:
        return {
            "worker": f"dramatiq --processes 1 --threads {concurrency}",
            "middleware": "defaults + Results(RedisBackend) + AsyncIO",
            "result wait": "Message.get_result(block=True) (BRPOPLPUSH)",
        }

    async def reset(self) -> None:
        redis_flush_own_db(self.env.redis_url)

    async def enqueue(self, kind: str) -> Any:
        return _ACTORS[kind].send()

    async def enqueue_bulk(self, kind: str, n: int) -> list[Any]:
        actor = _ACTORS[kind]
        g = dramatiq.group(actor.message() for _ in range(n)).run()
        return list(g.children)

    async def wait_result(self, handle: Any, timeout: float) -> Any:
        return handle.get_result(block=True, timeout=int(timeout * 1000))

    async def done_flags(self, handles: list[Any]) -> list[bool]:
        pipe = result_backend.client.pipeline(transaction=False)
        for message in handles:
            pipe.exists(result_backend.build_message_key(message))
        return [bool(v) for v in pipe.execute()]

    def worker_argv(self, concurrency: int) -> list[str]:
        return [
            venv_script("dramatiq"), "systems.dramatiq:broker", "systems.dramatiq",
            "--processes", "1", "--threads", str(concurrency), "--queues", self.queue_name,
        ]  # fmt: skip


ROWS = {"dramatiq": DramatiqSystem}
