"""Celery on Redis: Redis broker and Redis result backend.

Throughput settings, from Celery's "Optimizing" guide and worker docs: a high prefetch multiplier
for many short tasks, rate limits disabled, and the worker started ``--without-gossip
--without-mingle --without-heartbeat`` (no cluster chatter). One worker process: the ``threads``
pool (prefork would fork a child per slot, i.e. more processes than the other rows get).
Celery has no async tasks, so the 10 ms task is ``time.sleep`` on the pool's threads.
"""

from __future__ import annotations

import time
from typing import Any

from celery import Celery, group

from ._base import BenchEnv, System, dist_versions, redis_flush_own_db, venv_script

_env = BenchEnv.from_environ()

PREFETCH_MULTIPLIER = 16

app = Celery("bench", broker=_env.redis_url, backend=_env.redis_url)
app.conf.update(
    task_default_queue=_env.ns,
    worker_prefetch_multiplier=PREFETCH_MULTIPLIER,
    worker_disable_rate_limits=True,
    task_acks_late=False,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    result_expires=3600,
)


@app.task(name="bench.noop")
def noop() -> int:
    return 1


@app.task(name="bench.sleep")
def sleep10() -> int:
    time.sleep(0.01)
    return 1


_TASKS = {"noop": noop, "sleep": sleep10}


class CelerySystem(System):
    name = "celery"
    engine = "redis"
    supports_bulk = True
    bulk_api = "group(...).apply_async()"

    def versions(self) -> dict[str, str]:
        return dist_versions("celery", "kombu", "redis", "hiredis")

    def settings(self, concurrency: int) -> dict[str, str]:
        return {
            "worker": f"celery worker -P threads -c {concurrency} --without-gossip "
            "--without-mingle --without-heartbeat",
            "prefetch": f"worker_prefetch_multiplier={PREFETCH_MULTIPLIER}",
            "other": "worker_disable_rate_limits=True, acks early (default), json",
            "result wait": "AsyncResult.get() (Redis pub/sub)",
        }

    async def reset(self) -> None:
        redis_flush_own_db(self.env.redis_url)

    async def enqueue(self, kind: str) -> Any:
        return _TASKS[kind].delay()

    async def enqueue_bulk(self, kind: str, n: int) -> list[Any]:
        task = _TASKS[kind]
        res = group(task.s() for _ in range(n)).apply_async()
        return list(res.results)

    async def wait_result(self, handle: Any, timeout: float) -> Any:
        return handle.get(timeout=timeout)

    async def done_flags(self, handles: list[Any]) -> list[bool]:
        backend = app.backend
        keys = [backend.get_key_for_task(h.id) for h in handles]
        return [v is not None for v in backend.client.mget(keys)]

    def worker_argv(self, concurrency: int) -> list[str]:
        return [
            venv_script("celery"), "-A", "systems.celery:app", "worker",
            "-P", "threads", "-c", str(concurrency), "-Q", self.queue_name,
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "-l", "WARNING",
        ]  # fmt: skip


ROWS = {"celery": CelerySystem}
