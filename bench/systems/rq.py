"""RQ on Redis, with its default forking ``Worker`` and with ``SimpleWorker``.

RQ runs one job at a time per worker process (its answer to concurrency is more processes), so
its rows run at concurrency 1 whatever the others get. The default ``Worker`` forks a work horse
per job; ``SimpleWorker`` runs jobs in the worker process itself, which RQ's docs suggest when
fork overhead matters. Bulk enqueue is ``Queue.enqueue_many`` (one pipeline). Results are waited
for with ``Job.latest_result(timeout=...)``, a blocking XREAD on the job's result stream. Worker
started with ``-q`` (warnings only, like every row).
"""

from __future__ import annotations

import time
from typing import Any

from redis import Redis
from rq import Queue

from ._base import BenchEnv, System, dist_versions, redis_flush_own_db, venv_script

_env = BenchEnv.from_environ()


def noop() -> int:
    return 1


def sleep10() -> int:
    time.sleep(0.01)
    return 1


_FUNCS = {"noop": noop, "sleep": sleep10}


class _RQ(System):
    engine = "redis"
    supports_bulk = True
    bulk_api = "Queue.enqueue_many(Queue.prepare_data(...))"
    fixed_concurrency = 1
    worker_class = "rq.worker.Worker"

    async def open(self) -> None:
        self.redis = Redis.from_url(self.env.redis_url)
        self.queue = Queue(self.queue_name, connection=self.redis)

    async def close(self) -> None:
        self.redis.close()

    def versions(self) -> dict[str, str]:
        return dist_versions("rq", "redis", "hiredis")

    def settings(self, concurrency: int) -> dict[str, str]:
        return {
            "worker": f"rq worker -w {self.worker_class} -q (one job at a time)",
            "result wait": "Job.latest_result(timeout=...) (blocking XREAD)",
            "completion signal": "FinishedJobRegistry count",
        }

    async def reset(self) -> None:
        redis_flush_own_db(self.env.redis_url)

    async def enqueue(self, kind: str) -> Any:
        return self.queue.enqueue(_FUNCS[kind])

    async def enqueue_bulk(self, kind: str, n: int) -> list[Any]:
        func = _FUNCS[kind]
        return self.queue.enqueue_many([Queue.prepare_data(func) for _ in range(n)])

    async def wait_result(self, handle: Any, timeout: float) -> Any:
        result = handle.latest_result(timeout=max(1, int(timeout)))
        if result is None:
            raise TimeoutError(f"no result for {handle.id} within {timeout} s")
        return result.return_value

    async def done_count(self) -> int | None:
        return self.queue.finished_job_registry.get_job_count(cleanup=False)

    def worker_argv(self, concurrency: int) -> list[str]:
        return [
            venv_script("rq"), "worker", "-u", self.env.redis_url, "-w", self.worker_class,
            "-q", self.queue_name,
        ]  # fmt: skip


class RQForkSystem(_RQ):
    name = "rq"
    worker_class = "rq.worker.Worker"


class RQSimpleSystem(_RQ):
    name = "rq-simple"
    worker_class = "rq.worker.SimpleWorker"


ROWS = {"rq": RQForkSystem, "rq-simple": RQSimpleSystem}
