"""The ``thread_pool`` worker: every task runs in a thread; coroutines get a loop there."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import queue
import threading
import time
from collections.abc import Callable
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


_Job = tuple["asyncio.Future[Any]", contextvars.Context, Callable[..., Any], tuple[Any, ...]]


class Threads:
    """``size`` threads running calls for one event loop.

    Lighter than ``loop.run_in_executor``: a call is one queue entry and one asyncio future,
    and finished calls come back in batches, since a thread that finishes while the loop has
    not yet collected earlier results adds its own to them instead of waking the loop again
    (each wake-up is a write to the loop's pipe and a turn of the loop). Results taken together
    free their worker slots together, so the worker claims and completes many tasks per
    transaction or round trip, as the async worker does, instead of one at a time.
    """

    #: Seconds the loop waits for the next of the calls still running, once one has finished,
    #: and at most in all.
    GATHER, GATHER_MAX = 0.0001, 0.001

    def __init__(self, size: int, name: str) -> None:
        self._loop = asyncio.get_running_loop()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._finished = threading.Condition()
        self._done: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        self._in_flight = 0  # calls handed to the threads and not yet collected
        self._size, self._name = size, name
        self._threads: list[threading.Thread] = []  # started as calls need them

    def run(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """``fn(*args)`` in a thread, in a copy of the caller's context."""
        future = self._loop.create_future()
        self._in_flight += 1
        if len(self._threads) < min(self._in_flight, self._size):
            thread = threading.Thread(target=self._serve, daemon=True,
                                      name=f"{self._name}-{len(self._threads)}")
            thread.start()
            self._threads.append(thread)
        self._jobs.put((future, contextvars.copy_context(), fn, args))
        return future

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, context, fn, args = job
            outcome: tuple[asyncio.Future[Any], Any, BaseException | None]
            try:
                outcome = (future, context.run(fn, *args), None)
            except StopIteration as exc:  # a future cannot hold one: it ends coroutines
                outcome = (future, None, RuntimeError(f"the task raised {exc!r}"))
            except BaseException as exc:  # the caller's to handle
                outcome = (future, None, exc)
            with self._finished:
                self._done.append(outcome)
                first = len(self._done) == 1
                self._finished.notify()
            if first:
                try:
                    self._loop.call_soon_threadsafe(self._collect)
                except RuntimeError:  # the loop is closed: nobody waits any more
                    return

    def _collect(self) -> None:
        with self._finished:
            # Other calls still running may be about to finish (a thread waits for the GIL
            # this loop holds): wait, GIL released, for as long as they keep finishing within
            # GATHER of each other, and never more than GATHER_MAX in all (the loop is held
            # meanwhile). A call that runs on is left to its own wake-up.
            deadline = time.monotonic() + self.GATHER_MAX
            while len(self._done) < self._in_flight \
                    and (left := deadline - time.monotonic()) > 0 \
                    and self._finished.wait(min(self.GATHER, left)):
                pass
            done, self._done = self._done, []
        self._in_flight -= len(done)
        for future, value, exc in done:
            if future.done():  # cancelled meanwhile
                continue
            if exc is None:
                future.set_result(value)
            else:
                future.set_exception(exc)

    def shutdown(self) -> None:
        """Drop calls not started (their futures are cancelled); threads end after theirs."""
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job[0].cancel()
        for _ in self._threads:
            self._jobs.put(None)


class AsyncThreadPoolWorker(AsyncWorkerBase):
    """Runs ``max_workers`` tasks at once, each in a thread of a pool. A thread cannot be
    killed: a task past its timeout is marked failed, a cancelled one cancelled (its
    ``current_task().cancelled`` turns true), and a late result is dropped."""

    worker_type = "thread_pool"

    def _default_concurrency(self) -> int:
        return int(get_setting("THREAD_WORKERS"))

    async def start_pool(self) -> None:
        self._threads = Threads(self.max_workers, "omniq-thread")

    async def stop_pool(self) -> None:
        self._threads.shutdown()

    async def execute(self, call: Call, task: Task, ctx: TaskContext) -> Any:
        return await self._threads.run(run_call, call.func, call.args, call.kwargs)

    async def cancel_running(self, task_id: str) -> str:
        # A thread cannot be killed: its context's ``cancelled`` flag is set, and code that
        # checks it stops; whatever it returns later is dropped (the attempt is finished).
        return "its thread was asked to stop (cooperative); a late result is dropped"

class ThreadPoolWorker(Worker, twin_of=AsyncThreadPoolWorker):
    """Blocking twin of :class:`AsyncThreadPoolWorker`."""
