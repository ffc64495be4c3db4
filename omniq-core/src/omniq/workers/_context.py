"""What task code can see and do about its own run: ``omniq.current_task()``."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import TYPE_CHECKING, Any

from ..exceptions import TaskCancelledError

if TYPE_CHECKING:
    from ..models import Task
    from ._base import AsyncWorkerBase

_current: contextvars.ContextVar[TaskContext | None] = contextvars.ContextVar(
    "omniq_current_task", default=None)


class TaskContext:
    """The running task's handle (cancellation token, progress, lease extension), from
    coroutines and from threads alike."""

    def __init__(self, task: Task, worker: AsyncWorkerBase, loop: asyncio.AbstractEventLoop):
        self.task = task
        self._worker = worker
        self._loop = loop
        self._cancelled = threading.Event()
        #: How the worker stopped the task on a cancel request (for its stored error).
        self._cancelled_how: str | None = None

    @property
    def task_id(self) -> str:
        return self.task.id

    @property
    def attempt(self) -> int:
        return self.task.attempts

    @property
    def cancelled(self) -> bool:
        """True once someone asked to cancel this task; long work should check it and stop."""
        return self._cancelled.is_set()

    def raise_if_cancelled(self) -> None:
        if self._cancelled.is_set():
            raise TaskCancelledError(self.task.id, "cancelled", "cancel requested")

    def _run(self, coro: Any) -> Any:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            return self._loop.create_task(coro)
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def set_progress(self, progress: Any) -> Any:
        """Record progress (plain data: a number, a string, a small dict); ``get_task`` shows
        the latest. From a coroutine, await the returned task if you need it stored."""
        return self._run(self._worker._set_progress(self, progress))

    def extend_lease(self, seconds: float) -> Any:
        """Keep the task leased for ``seconds`` more (for work longer than its timeout)."""
        return self._run(self._worker._extend(self, seconds))


def current_task() -> TaskContext | None:
    """The context of the task running in this coroutine or thread, or None."""
    return _current.get()
