"""The ``process_pool`` worker: tasks run in child processes, verified there again.

A child receives the signed payload, checks it with the project's keyring, runs the call
(coroutines on their own loop) and sends back the signed value or the error as data. A task
past its timeout, or cancelled, is killed: the pool is torn down and rebuilt, and the other
tasks it was running are resubmitted transparently.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import traceback
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from .._sync import make_sync
from ..config import get_setting
from ..exceptions import OmniQError
from ..models import ErrorInfo, Task
from ..serialization import Call, Keyring, Serializer
from ._base import AsyncWorkerBase
from ._context import TaskContext
from ._threads import run_call

_child_serializer: Serializer | None = None


def _init_child(keyring: Keyring) -> None:
    global _child_serializer
    _child_serializer = Serializer(keyring)


def _run_in_child(payload: bytes) -> tuple[bool, Any]:
    assert _child_serializer is not None
    call = _child_serializer.load_call(payload)
    try:
        value = run_call(call.func, call.args, call.kwargs)
    except Exception as exc:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return False, (type(exc).__qualname__, str(exc), tb)
    return True, _child_serializer.dump_value(value)


class RemoteTaskError(OmniQError):
    """A task raised in a child process; carries the remote error as data."""

    def __init__(self, info: ErrorInfo) -> None:
        self.info = info
        super().__init__(f"{info.type}: {info.message}")


class AsyncProcessPoolWorker(AsyncWorkerBase):
    """Runs ``max_workers`` tasks at once in a pool of processes (CPU-bound work)."""

    worker_type = "process_pool"

    def _default_concurrency(self) -> int:
        return int(get_setting("PROCESS_WORKERS") or 1)

    async def _open_executor(self) -> None:
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn: forking a process that runs an event loop and threads is not safe.
        return ProcessPoolExecutor(self.max_workers, mp_context=multiprocessing.get_context(
            "spawn"), initializer=_init_child, initargs=(self.serializer.keyring,))

    async def _close_executor(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _abandon(self, task_id: str) -> None:
        pool, self._pool = self._pool, self._new_pool()
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    async def _execute(self, call: Call, task: Task, ctx: TaskContext) -> Any:
        loop = asyncio.get_running_loop()
        for _ in range(3):
            pool = self._pool
            try:
                ok, value = await loop.run_in_executor(pool, _run_in_child, task.payload)
                break
            except BrokenProcessPool:
                if pool is self._pool:  # not replaced by _abandon: rebuild it ourselves
                    self._pool = self._new_pool()
        else:
            raise RuntimeError("process pool kept breaking while running this task")
        if not ok:
            raise RemoteTaskError(ErrorInfo(*value))
        return self.serializer.load_value(value)


ProcessPoolWorker = make_sync(AsyncProcessPoolWorker, "ProcessPoolWorker")
ProcessWorker = ProcessPoolWorker
