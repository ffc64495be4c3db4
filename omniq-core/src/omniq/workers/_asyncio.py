"""The ``async`` worker: coroutines run on the event loop, sync functions in threads."""

from __future__ import annotations

import functools
import inspect
from typing import Any

from ..models import Task
from ..serialization import Call
from ..sync import Worker
from ._base import AsyncWorkerBase
from ._context import TaskContext
from ._threads import Threads


class AsyncioWorker(AsyncWorkerBase):
    """Runs ``max_workers`` tasks at once: coroutine functions on the event loop, plain ones in
    a thread pool of the same size, so blocking code never stalls the loop."""

    worker_type = "async"

    async def start_pool(self) -> None:
        self._threads = Threads(self.max_workers, "omniq-async")
        self._in_threads: set[str] = set()

    async def stop_pool(self) -> None:
        self._threads.shutdown()

    async def execute(self, call: Call, task: Task, ctx: TaskContext) -> Any:
        if inspect.iscoroutinefunction(call.func):
            return await call.func(*call.args, **call.kwargs)
        self._in_threads.add(task.id)
        try:
            value = await self._threads.run(
                functools.partial(call.func, *call.args, **call.kwargs))
        finally:
            self._in_threads.discard(task.id)
        if inspect.isawaitable(value):
            value = await value
        return value

    async def cancel_running(self, task_id: str) -> str:
        # The base cancels the coroutine awaiting execute(); a thread cannot be stopped.
        if task_id in self._in_threads:
            return "its thread was asked to stop (cooperative); a late result is dropped"
        return "its coroutine was cancelled"

class AsyncWorker(Worker, twin_of=AsyncioWorker):
    """Blocking twin of :class:`AsyncioWorker`."""
