"""taskiq with taskiq-nats: ``PullBasedJetStreamBroker`` and ``NATSObjectStoreResultBackend``.

Everything on NATS JetStream: tasks on a stream with a durable pull consumer, results in
a JetStream object store bucket (taskiq-nats's own result backend). The consumer keeps taskiq-nats's
default ``pull_consume_batch=1``: a larger batch without a ``pull_consume_timeout`` makes a fetch
wait until the batch is full (an idle worker never starts a lone task), and with a timeout a lone
task waits that long. The worker is taskiq's CLI with one worker process and
``--max-async-tasks`` = the concurrency. No bulk enqueue. Result waits poll at the bench's
common interval.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import nats
from nats.js.errors import NotFoundError
from taskiq_nats import NATSObjectStoreResultBackend, PullBasedJetStreamBroker

from ._base import RESULT_POLL_S, BenchEnv, System, dist_versions, venv_script

_env = BenchEnv.from_environ()
STREAM = f"{_env.ns}-tasks"
SUBJECT = f"{_env.ns}.tasks"
BUCKET = f"{_env.ns}-results"

result_backend: NATSObjectStoreResultBackend[Any] = NATSObjectStoreResultBackend(
    servers=_env.nats_url, bucket_name=BUCKET
)
broker = PullBasedJetStreamBroker(
    servers=_env.nats_url,
    subject=SUBJECT,
    stream_name=STREAM,
    durable=f"{_env.ns}-worker",
).with_result_backend(result_backend)


@broker.task(task_name="bench.noop")
async def noop() -> int:
    return 1


@broker.task(task_name="bench.sleep")
async def sleep10() -> int:
    await asyncio.sleep(0.01)
    return 1


_TASKS = {"noop": noop, "sleep": sleep10}


class TaskiqNatsSystem(System):
    name = "taskiq-nats"
    engine = "nats"
    async_tasks = True

    async def open(self) -> None:
        await broker.startup()

    async def close(self) -> None:
        await broker.shutdown()

    def versions(self) -> dict[str, str]:
        return dist_versions("taskiq", "taskiq-nats", "nats-py")

    def settings(self, concurrency: int) -> dict[str, str]:
        return {
            "worker": f"taskiq worker --workers 1 --max-async-tasks {concurrency}",
            "broker": "PullBasedJetStreamBroker (pull_consume_batch=1, its default)",
            "results": "NATSObjectStoreResultBackend",
            "result wait": f"wait_result(check_interval={RESULT_POLL_S})",
        }

    async def _drop(self) -> None:
        nc = await nats.connect(self.env.nats_url)
        try:
            js = nc.jetstream()
            for drop in (js.delete_stream(STREAM), js.delete_object_store(BUCKET)):
                with contextlib.suppress(NotFoundError):
                    await drop
        finally:
            await nc.close()

    async def reset(self) -> None:
        await broker.shutdown()
        await self._drop()
        await broker.startup()

    async def cleanup(self) -> None:
        await self._drop()

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
            venv_script("taskiq"), "worker", "systems.taskiq_nats:broker",
            "--workers", "1", "--max-async-tasks", str(concurrency),
            "--log-level", "WARNING",
        ]  # fmt: skip


ROWS = {"taskiq-nats": TaskiqNatsSystem}
