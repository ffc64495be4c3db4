"""The ``thread_pool`` worker: every task runs in a thread; coroutines get a loop there."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..config import get_setting
from ..models import Task
from ..serialization import Call
from ..sync import Worker
from ._base import AsyncWorkerBase
from ._context import TaskContext


def run_call(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Call ``func``; a coroutine (or awaitable result) runs to completion on a fresh loop."""
    if inspect.iscoroutinefunction(func):
        return asyncio.run(func(*args, **kwargs))
    value = func(*args, **kwargs)
    if inspect.iscoroutine(value):
        return asyncio.run(value)
    return value


class AsyncThreadPoolWorker(AsyncWorkerBase):
    """Runs ``max_workers`` tasks at once, each in a thread of a pool. A thread cannot be
    killed: a task past its timeout is marked failed, a cancelled one cancelled (its
    ``current_task().cancelled`` turns true), and a late result is dropped."""

    worker_type = "thread_pool"

    def _default_concurrency(self) -> int:
        return int(get_setting("THREAD_WORKERS"))

    async def start_pool(self) -> None:
        self._threads = ThreadPoolExecutor(self.max_workers, thread_name_prefix="omniq-thread")

    async def stop_pool(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)

    async def execute(self, call: Call, task: Task, ctx: TaskContext) -> Any:
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(
            self._threads,
            functools.partial(context.run, run_call, call.func, call.args, call.kwargs))

    async def cancel_running(self, task_id: str) -> str:
        # A thread cannot be killed: its context's ``cancelled`` flag is set, and code that
        # checks it stops; whatever it returns later is dropped (the attempt is finished).
        return "its thread was asked to stop (cooperative); a late result is dropped"

class ThreadPoolWorker(Worker, twin_of=AsyncThreadPoolWorker):
    """Blocking twin of :class:`AsyncThreadPoolWorker`."""
