"""Group commit for enqueues: concurrent writes of tasks share one ``add_tasks`` call.

A web app's request handlers, or a hundred coroutines, enqueue one task each at the same time;
written one by one, each pays a round trip and a commit of its own. Here the first write lets
the producers that are ready to run join it (a turn of the event loop, microseconds; a lone
producer waits for nothing else), and goes out with them as one batch through the backend's
bulk add; writes that arrive while a batch is in flight go out together as soon as it returns.
Every caller still returns only once its own tasks are stored: nothing is acknowledged before
the batch holding it is.

A large ``enqueue_many`` is written in chunks while the next chunks are built, so the store
works while we sign and encode (on a 2-core machine the two then run side by side).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ..exceptions import BackendUnavailableError
from ..models import Task
from ..serialization._codec import is_plain

#: Most turns of the loop a write waits for producers to join it.
JOIN_TURNS = 3

Write = Callable[[Sequence[Task]], Awaitable[list[bool]]]
_Waiting = list[tuple[Sequence[Task], "asyncio.Future[list[bool]]"]]


class GroupWriter:
    """Coalesces concurrent ``write(tasks)`` calls (``add_tasks``); one batch in flight at a
    time, on the loop of the calls."""

    def __init__(self, write: Write) -> None:
        self._write = write
        self._busy = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: _Waiting = []
        self._flush_task: asyncio.Task[None] | None = None  # kept: the loop holds tasks weakly

    async def add(self, tasks: Sequence[Task], *, join: bool = True) -> list[bool]:
        """Store ``tasks`` (with whatever else is waiting); per task, whether it was new.
        ``join=False``: write at once, without waiting a turn for others to join (a chunk of
        a bulk enqueue, whose builder would take that turn)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # first use, or a loop that ended with a batch in flight
            self._loop, self._busy, self._waiting = loop, False, []
        if self._busy:
            future: asyncio.Future[list[bool]] = loop.create_future()
            self._waiting.append((tasks, future))
            return await future
        self._busy = True
        try:
            # A few turns of the loop let the producers that are ready to run join (a producer
            # handed over from another thread takes two: its task starts, then it runs); they
            # stop once a turn brings no one new. With nothing else ready to run (a lone
            # producer) no turn is taken: asyncio's ready queue says so (other loops: a turn).
            for _ in range(JOIN_TURNS if join else 0):
                if not getattr(loop, "_ready", True):
                    break
                joined = len(self._waiting)
                await asyncio.sleep(0)
                if joined and len(self._waiting) == joined:
                    break
        except BaseException:  # cancelled: those who joined are written all the same
            self._next()
            raise
        if not self._waiting:  # alone: written here, without a task of its own
            try:
                return await self._write(tasks)
            finally:
                self._next()
        # Written by a task of its own, so no one caller's cancellation cuts the batch short.
        future = loop.create_future()
        self._waiting.insert(0, (tasks, future))
        self._next()
        return await future

    def _next(self) -> None:
        """Start the batch that gathered meanwhile, or go idle."""
        waiting, self._waiting = self._waiting, []
        if waiting:
            self._flush_task = asyncio.get_running_loop().create_task(self._flush(waiting))
        else:
            self._busy, self._flush_task = False, None

    async def _flush(self, waiting: _Waiting) -> None:
        try:
            # A caller cancelled while it waited has given its tasks up: they are not written.
            waiting = [(tasks, future) for tasks, future in waiting if not future.done()]
            try:
                inserted = await self._write([t for tasks, _ in waiting for t in tasks]) \
                    if waiting else []
            except Exception as exc:
                await self._one_by_one(waiting, exc)
                return
            at = 0
            for tasks, future in waiting:
                if not future.done():
                    future.set_result(inserted[at:at + len(tasks)])
                at += len(tasks)
        except BaseException:  # cancelled (the loop is closing): nobody's write is known
            for _, future in waiting:
                future.cancel()
            raise
        finally:
            self._next()

    async def _one_by_one(self, waiting: _Waiting, exc: Exception) -> None:
        """The batch failed: an unreachable store fails every caller alike; anything else may
        be one caller's bad task, so each caller's tasks are written again on their own and
        each caller gets its own answer (adds are idempotent by task id)."""
        if len(waiting) == 1 or isinstance(exc, BackendUnavailableError):
            for _, future in waiting:
                if not future.done():
                    future.set_exception(exc)
            return
        for tasks, future in waiting:
            try:
                inserted = await self._write(tasks)
            except Exception as own:
                if not future.done():
                    future.set_exception(own)
            else:
                if not future.done():
                    future.set_result(inserted)


#: Tasks per chunk of a bulk enqueue written while the next chunk is built.
CHUNK = 1000


def can_overlap(items: Sequence[Any]) -> bool:
    """Whether a bulk enqueue of ``items`` may start writing before every task is built: only
    when no item can fail to build once the first is built, that is when every argument is
    plain data (a value that needs pickling might fail, and the tasks before it would then be
    stored already). Small batches gain nothing."""
    if len(items) <= CHUNK:
        return False
    for item in items:
        if isinstance(item, tuple):
            if not all(map(is_plain, item)):
                return False
        elif not is_plain(item):  # a dict of keyword arguments: plain with str keys
            return False
    return True


async def build_while_writing(build: Callable[[Any], Task], items: Sequence[Any],
                              write: Callable[[list[Task]], Awaitable[list[str]]]) -> list[str]:
    """``write`` the tasks built from ``items`` in chunks, each chunk written while the next
    is built; the ids in order, once every chunk is stored."""
    writes: list[asyncio.Future[list[str]]] = []
    try:
        for start in range(0, len(items), CHUNK):
            tasks = [build(item) for item in items[start:start + CHUNK]]
            writes.append(asyncio.ensure_future(write(tasks)))
            await asyncio.sleep(0)  # the chunk goes out before the next one is built
    except BaseException:  # cancelled: what is in flight may or may not land
        for pending in writes:
            pending.cancel()
        raise
    return [task_id for ids in await asyncio.gather(*writes) for task_id in ids]
