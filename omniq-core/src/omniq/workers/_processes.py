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
import functools
import multiprocessing
import multiprocessing.connection
import os
import signal
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
from ._at_exit import stop_running_workers
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
    # Ctrl-C in a terminal reaches the whole process group: the worker stops its children
    # itself, after their grace period; here it would end the task as a KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
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
        _child_channel.send(("progress", self.task_id, progress))
        return True

    def extend_lease(self, seconds: float) -> bool:
        _child_channel.send(("extend", self.task_id, seconds))
        return True


class _Slot:
    """One of the worker's ``max_workers`` places to run a task: a pool of one process, and
    the pipe that process alone writes progress and lease extensions to. Nothing is shared
    between slots, so a process killed mid-write breaks only its own pipe, which goes with it
    (a queue shared by all would keep its lock held for good)."""

    def __init__(self, keyring: Keyring) -> None:
        context = multiprocessing.get_context("spawn")
        self.reader, writer = context.Pipe(duplex=False)
        self._writer: Any = writer  # this process's copy, until the child has its own
        self.pool = ProcessPoolExecutor(1, mp_context=context, initializer=_init_child,
                                        initargs=(keyring, writer))
        # The child starts now, not with the first task, whose timeout would count the
        # child's start (a second or so on a loaded machine). Resolves once it runs.
        self.ready = asyncio.get_running_loop().run_in_executor(self.pool, _ready)
        self.ready.add_done_callback(_consume)  # killed before it ran: no warning
        self.started()

    def started(self) -> None:
        """The child is running (a submit starts it): closing this process's copy of the
        pipe's end lets the reader see the end of it when the child dies."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    @property
    def broken(self) -> bool:
        """Whether its process died while it was idle (killed by the system, say)."""
        processes = getattr(self.pool, "_processes", None) or {}
        return any(not process.is_alive() for process in processes.values())


def _consume(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


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
        self._free_slots: asyncio.Queue[_Slot] = asyncio.Queue()
        self._slots: dict[str, _Slot] = {}  # task id -> the slot running it
        self._readers: set[Any] = set()  # the pipes of the live slots
        self._retired: list[Any] = []  # pipes of replaced slots, for the reader to close
        self._channel_lock = threading.Lock()
        # spawn: forking a process that runs an event loop and threads is not safe.
        self._wake_read, self._wake_write = multiprocessing.get_context("spawn").Pipe(False)
        slots = [self._new_slot() for _ in range(self.max_workers)]
        await self._started(slots)
        for slot in slots:
            self._free_slots.put_nowait(slot)
        self._reader = threading.Thread(target=self._read_channels,
                                        args=(asyncio.get_running_loop(),),
                                        name="omniq-process-channel", daemon=True)
        self._reader.start()

    async def _started(self, slots: list[_Slot]) -> None:
        """Wait for the first children, so that a program whose children die as they start
        fails here, saying why, rather than in every task it claims."""
        try:
            await asyncio.gather(*(slot.ready for slot in slots))
        except BrokenProcessPool as exc:
            for slot in slots:
                slot.pool.shutdown(wait=False, cancel_futures=True)
            raise ConfigError(
                "the process_pool worker's first process exited as it started (its traceback "
                "is on stderr)",
                hint="each new process imports your main module again (the spawn start "
                     "method): keep the code that enqueues tasks and starts workers under "
                     '`if __name__ == "__main__":`, and make that module importable without '
                     "side effects") from exc

    def _new_slot(self) -> _Slot:
        slot = _Slot(self.serializer.keyring)
        with self._channel_lock:
            self._readers.add(slot.reader)
        return slot

    def _replace(self, slot: _Slot) -> _Slot:
        """A fresh slot for one whose process was killed or died; its pipe goes."""
        _kill(slot.pool)
        with self._channel_lock:
            self._readers.discard(slot.reader)
            self._retired.append(slot.reader)
        self._wake_write.send(None)
        return self._new_slot()

    def _drain_free_slots(self) -> list[_Slot]:
        slots = []
        while not self._free_slots.empty():
            slots.append(self._free_slots.get_nowait())
        return slots

    def _read_channels(self, loop: asyncio.AbstractEventLoop) -> None:
        """Relay progress and lease extensions from children to the worker's loop."""
        while True:
            with self._channel_lock:
                for retired in self._retired:
                    retired.close()
                self._retired.clear()
                readers = [*self._readers, self._wake_read]
            for ready in multiprocessing.connection.wait(readers):
                pipe: Any = ready  # a Connection: only Connections are waited on
                try:
                    message = pipe.recv()
                except (EOFError, OSError):  # its child is gone
                    with self._channel_lock:
                        self._readers.discard(pipe)
                    continue
                if pipe is self._wake_read:
                    if message == "stop":
                        return
                    continue  # the slots changed: wait on the new set
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
            _kill(slot.pool)
        self._wake_write.send("stop")

    async def cancel_running(self, task_id: str) -> str:
        slot = self._slots.get(task_id)
        if slot is not None:
            _kill(slot.pool)  # execute() puts a fresh one in its place
        return "its process was killed"

    async def execute(self, call: Call, task: Task, ctx: TaskContext) -> Any:
        slot = await self._free_slots.get()
        if slot.broken:  # died while idle: this task must not be charged with its death
            slot = self._replace(slot)
        self._slots[task.id] = slot
        try:
            future = asyncio.get_running_loop().run_in_executor(
                slot.pool, _run_in_child, task.payload, task.id, task.attempts)
            slot.started()
            ok, value = await future
        except asyncio.CancelledError:
            # A timeout, a cancel request, or a stop past its grace period: the task's code
            # stops with its process, and a fresh one takes the slot.
            slot = self._replace(slot)
            raise
        except BrokenProcessPool:
            slot = self._replace(slot)
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


# When the main thread ends, concurrent.futures waits for every job of its pools, before any
# atexit handler: a process-pool worker still running would hold the exit for as long as its
# tasks run, whatever its grace period. So it is stopped first, from the same (private, but
# concurrent.futures' own) hook; registered later, it runs earlier.
_register_before_pools_join = getattr(threading, "_register_atexit", None)
if _register_before_pools_join is not None:
    _register_before_pools_join(functools.partial(stop_running_workers,
                                                  AsyncProcessPoolWorker))
