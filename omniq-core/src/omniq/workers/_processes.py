"""The ``process_pool`` worker: tasks run in child processes, verified there again.

A child receives the signed payload, checks it with the project's keyring, runs the call
(coroutines on their own loop) and sends back the signed value or the error as data. Each of
the ``max_workers`` slots is a pool of one process, so a task past its timeout, or cancelled,
is killed alone, and a task whose process dies (``os._exit``, a crash, the OOM killer) fails
alone: the tasks beside it run on. In a child, ``current_task()`` sends progress and lease
extensions to the parent over a queue (cancellation kills the child, so its ``cancelled``
never turns true).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ..config import get_setting
from ..exceptions import ConfigError, OmniQError
from ..models import ErrorInfo, Task
from ..serialization import Call, Keyring, Serializer
from ..sync import Worker
from ._base import AsyncWorkerBase, PoolClosed, error_info
from ._context import TaskContext, _current
from ._threads import run_call

_child_serializer: Serializer | None = None
_child_channel: Any = None


#: Seconds between a child's looks at whether its worker process is still there.
ORPHAN_CHECK_INTERVAL = 0.5


def _init_child(keyring: Keyring, channel: Any) -> None:
    global _child_serializer, _child_channel
    _child_serializer = Serializer(keyring)
    _child_channel = channel
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True,
                     name="omniq-orphan-watch").start()


def _exit_when_orphaned(parent: int) -> None:
    """End this child once its worker process is gone (killed with SIGKILL, say, which gives
    it no chance to stop the pool): left alone, the task it runs would go on beside the run
    that replaces it once its lease expires, and the child would never exit."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_INTERVAL)
    os._exit(1)


class ChildTaskContext:
    """``current_task()`` inside a process-pool child: forwards to the parent's worker."""

    def __init__(self, task_id: str, attempt: int) -> None:
        self.task_id, self.attempt = task_id, attempt
        self.cancelled = False

    def raise_if_cancelled(self) -> None:
        """Cancelling a process-pool task kills its process; nothing to check here."""

    # Both return once the request is on its way to the parent, which applies it (fenced, as
    # from any other worker type); a child cannot wait on the parent's loop.
    def set_progress(self, progress: Any) -> bool:
        _child_channel.put(("progress", self.task_id, progress))
        return True

    def extend_lease(self, seconds: float) -> bool:
        _child_channel.put(("extend", self.task_id, seconds))
        return True


def _kill(pool: ProcessPoolExecutor) -> None:
    """Kill the pool's processes, whatever they run, and shut it down."""
    # The executor keeps them in a private mapping; there is no public way to stop a job.
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def _ready() -> None:
    """Run in a new child to see that it starts."""


def _run_in_child(payload: bytes, task_id: str, attempt: int) -> tuple[bool, Any]:
    assert _child_serializer is not None
    call = _child_serializer.load_call(payload)
    token = _current.set(ChildTaskContext(task_id, attempt))  # type: ignore[arg-type]
    try:
        value = run_call(call.func, call.args, call.kwargs)
    except Exception as exc:
        return False, error_info(exc)  # as data: the exception itself may not unpickle
    finally:
        _current.reset(token)
    return True, _child_serializer.dump_value(value)


class RemoteTaskError(OmniQError):
    """A task raised in a child process; carries the remote error as data."""

    def __init__(self, info: ErrorInfo) -> None:
        self.info = info
        super().__init__(f"{info.type}: {info.message}")


class ProcessExitedError(OmniQError):
    """The process running a task exited before the task returned."""


class AsyncProcessPoolWorker(AsyncWorkerBase):
    """Runs ``max_workers`` tasks at once, each in a process of its own (CPU-bound work)."""

    worker_type = "process_pool"

    def _default_concurrency(self) -> int:
        return int(get_setting("PROCESS_WORKERS") or 1)

    async def start_pool(self) -> None:
        # spawn: forking a process that runs an event loop and threads is not safe.
        context = multiprocessing.get_context("spawn")
        self._channel = context.SimpleQueue()
        self._free_slots: asyncio.Queue[ProcessPoolExecutor] = asyncio.Queue()
        self._slots: dict[str, ProcessPoolExecutor] = {}  # task id -> the slot running it
        for _ in range(self.max_workers):
            self._free_slots.put_nowait(self._new_slot())
        await self._start_a_child()
        self._reader = threading.Thread(target=self._read_channel,
                                        args=(asyncio.get_running_loop(),),
                                        name="omniq-process-channel", daemon=True)
        self._reader.start()

    async def _start_a_child(self) -> None:
        """Start one child now, so that a program whose children die as they start fails here,
        saying why, rather than in every task it claims."""
        slot = self._free_slots.get_nowait()
        try:
            await asyncio.get_running_loop().run_in_executor(slot, _ready)
        except BrokenProcessPool as exc:
            for pool in (slot, *self._drain_free_slots()):
                pool.shutdown(wait=False, cancel_futures=True)
            raise ConfigError(
                "the process_pool worker's first process exited as it started (its traceback "
                "is on stderr)",
                hint="each new process imports your main module again (the spawn start "
                     "method): keep the code that enqueues tasks and starts workers under "
                     '`if __name__ == "__main__":`, and make that module importable without '
                     "side effects") from exc
        self._free_slots.put_nowait(slot)

    def _new_slot(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_child, initargs=(self.serializer.keyring, self._channel))

    def _drain_free_slots(self) -> list[ProcessPoolExecutor]:
        slots = []
        while not self._free_slots.empty():
            slots.append(self._free_slots.get_nowait())
        return slots

    def _read_channel(self, loop: asyncio.AbstractEventLoop) -> None:
        """Relay progress and lease extensions from children to the worker's loop."""
        while True:
            message = self._channel.get()
            if message is None:
                return
            asyncio.run_coroutine_threadsafe(self._apply(*message), loop)

    async def _apply(self, kind: str, task_id: str, value: Any) -> None:
        entry = self._running.get(task_id)
        if entry is None:
            return
        ctx = entry[1]
        if kind == "progress":
            await self._set_progress(ctx, value)
        else:
            await self._extend(ctx, value)

    async def stop_pool(self) -> None:
        # What still runs in a child outlived the grace period and was put back: left alone
        # it would run on, and this process could not exit (the pool is joined at exit).
        for slot in [*self._slots.values(), *self._drain_free_slots()]:
            _kill(slot)
        self._channel.put(None)

    async def cancel_running(self, task_id: str) -> str:
        slot = self._slots.get(task_id)
        if slot is not None:
            _kill(slot)  # execute() puts a fresh one in its place
        return "its process was killed"

    async def execute(self, call: Call, task: Task, ctx: TaskContext) -> Any:
        slot = await self._free_slots.get()
        self._slots[task.id] = slot
        try:
            ok, value = await asyncio.get_running_loop().run_in_executor(
                slot, _run_in_child, task.payload, task.id, task.attempts)
        except asyncio.CancelledError:
            # A timeout, a cancel request, or a stop past its grace period: the task's code
            # stops with its process, and a fresh one takes the slot.
            _kill(slot)
            slot = self._new_slot()
            raise
        except BrokenProcessPool:
            slot = self._new_slot()
            raise ProcessExitedError(
                "the process running this task exited before the task returned (os._exit, a "
                "crash, or killed: by the system when out of memory, say); the tasks beside "
                "it ran on") from None
        except RuntimeError as exc:
            # concurrent.futures shuts its pools down when the main thread ends, before
            # the stop at exit: a task claimed in between goes back, it did not fail.
            if str(exc).startswith("cannot schedule new futures"):
                raise PoolClosed(str(exc)) from exc
            raise
        finally:
            del self._slots[task.id]
            self._free_slots.put_nowait(slot)
        if not ok:
            raise RemoteTaskError(value)
        return self.serializer.load_value(value)


class ProcessPoolWorker(Worker, twin_of=AsyncProcessPoolWorker):
    """Blocking twin of :class:`AsyncProcessPoolWorker`."""
