"""The ``gevent`` worker: sync task functions run in greenlets, coroutines on the event loop."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from typing import Any

from omniq.config import get_setting
from omniq.models import Task
from omniq.serialization import Call
from omniq.sync import Worker
from omniq.workers import AsyncWorkerBase, TaskContext

from ._hub import HubThread
from ._patching import patch


class GreenletTaskContext(TaskContext):
    """A :class:`TaskContext` whose blocking calls let other greenlets run.

    ``set_progress`` and ``extend_lease`` wait for the worker's loop to write; from a greenlet
    that wait goes to one of gevent's real threads, so it does not stall the hub's thread.
    """

    _hub_thread: HubThread

    def set_progress(self, progress: Any) -> Any:
        if not self._hub_thread.in_hub_thread():
            return super().set_progress(progress)
        return self._hub_thread.call(super().set_progress, progress)

    def extend_lease(self, seconds: float) -> Any:
        if not self._hub_thread.in_hub_thread():
            return super().extend_lease(seconds)
        return self._hub_thread.call(super().extend_lease, seconds)


class AsyncGeventWorker(AsyncWorkerBase):
    """Runs ``max_workers`` tasks at once (default ``GEVENT_WORKERS``), sync ones in greenlets.

    The greenlets live in a gevent hub in a dedicated OS thread; the worker's asyncio loop,
    which renews leases and watches for cancel requests, stays in its own thread. Coroutine
    functions are awaited on that loop, as by the ``async`` worker. A timeout or cancel request
    kills the task's greenlet (at its next yield: code blocking in C runs on, and its late
    result is dropped).

    Starting it monkey-patches ``socket``, ``ssl``, ``time`` and ``select`` (see
    :func:`omniq_gevent.patch`) unless that was done already, process-wide: without it blocking
    I/O would hold the hub's thread and tasks would run one at a time. Its options are those of
    :class:`omniq.workers.AsyncWorkerBase`.
    """

    worker_type = "gevent"
    command_module = "omniq_gevent"  # ``omniq worker --type gevent`` patches first through it

    def _default_concurrency(self) -> int:
        return int(get_setting("GEVENT_WORKERS"))

    async def start_pool(self) -> None:
        patch()
        self._hub = HubThread(name=f"omniq-gevent-{self.worker_id}")

    async def stop_pool(self) -> None:
        self._hub.stop()

    async def execute(self, call: Call, task: Task, ctx: TaskContext) -> Any:
        if inspect.iscoroutinefunction(call.func):
            return await call.func(*call.args, **call.kwargs)
        # Same object, so the base's updates (renewed task, cancel flag) are seen; only its
        # blocking methods change.
        ctx.__class__ = GreenletTaskContext
        assert isinstance(ctx, GreenletTaskContext)
        ctx._hub_thread = self._hub
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        context = contextvars.copy_context()
        self._hub.spawn(task.id, functools.partial(context.run, call.func, *call.args,
                                                   **call.kwargs), future)
        value = await future
        if inspect.isawaitable(value):  # a sync function that returned a coroutine
            value = await value
        return value

    async def cancel_running(self, task_id: str) -> str:
        # A coroutine is cancelled by the base; killing a greenlet that is not there is a no-op.
        self._hub.kill(task_id)
        return "its greenlet was killed (at its next yield; code blocking in C runs on)"


class GeventWorker(Worker, twin_of=AsyncGeventWorker):
    """Blocking twin of :class:`AsyncGeventWorker`."""
