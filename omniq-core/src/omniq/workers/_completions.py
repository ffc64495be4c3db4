"""Batched completions: finished attempts are written together, fenced, then their results.

Handlers submit and await; one writer drains whatever has accumulated into a single batch, so
under load many completions share one round trip (one transaction, one pipeline) and at low
load a completion is written at once, with no added delay.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from ..contract import ResultRecord
from ..exceptions import BackendUnavailableError, OmniQError
from ..models import Task

if TYPE_CHECKING:
    from ..queue import AsyncTaskQueue
    from ..storage import AsyncResultStore

logger = logging.getLogger("omniq.worker")
MAX_BATCH = 500
#: How many times a write the store refused (not an outage) is tried before it is given up.
REFUSALS = 5
_T = TypeVar("_T")

_Item = tuple[Task, int, ResultRecord | None, asyncio.Future[bool]]


def _transient(exc: Exception) -> bool:
    """An outage, which passes (a connection lost, a timeout), rather than a refusal."""
    return isinstance(exc, BackendUnavailableError | OSError | TimeoutError) \
        or not isinstance(exc, OmniQError)


class Completer:
    def __init__(self, queue: AsyncTaskQueue, results: AsyncResultStore | None) -> None:
        self.queue, self.results = queue, results
        self._pending: asyncio.Queue[_Item | None] = asyncio.Queue()  # None: stop
        self._writer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._writer = asyncio.get_running_loop().create_task(self._run(), name="omniq-completer")

    async def submit(self, task: Task, attempt: int, result: ResultRecord | None) -> bool:
        """Write ``task`` (fenced by ``attempt``) and then ``result`` (encoded by the result
        store's ``record``); True if it was current.
        After :meth:`stop` nothing is written (False): the task runs again after its lease."""
        if self._writer is None:
            logger.warning("task %s finished after its worker stopped; it will run again "
                           "when its lease expires", task.id)
            return False
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.put_nowait((task, attempt, result, future))
        return await asyncio.shield(future)

    async def _run(self) -> None:
        while True:
            item = await self._pending.get()
            batch: list[_Item] = []
            while item is not None:
                batch.append(item)
                if self._pending.empty() or len(batch) >= MAX_BATCH:
                    break
                item = self._pending.get_nowait()
            if batch:
                try:
                    await self._write(batch)
                except Exception as exc:  # never seen; but a writer that died would hang
                    # every later completion, so its handlers hear of it and it goes on.
                    logger.exception("could not write %d completions", len(batch))
                    for *_, future in batch:
                        if not future.done():
                            future.set_exception(exc)
            if item is None:  # stop(): everything submitted before it is written
                return

    async def _write(self, batch: list[_Item]) -> None:
        updates = [(task, attempt) for task, attempt, _, _ in batch]
        tries = 0
        store = self.results
        if store is not None and self.queue.writes_results_for(store) \
                and any(r is not None for _, _, r, _ in batch):
            try:
                self._resolve(batch, await self.queue.finish(updates, [r for _, _, r, _ in batch]))
                return
            except Exception as exc:
                # Part may have landed: the way below looks at what did (as a retry).
                logger.warning("could not write %d completions (%s); retrying", len(batch), exc)
                tries = 1

        async def finish() -> list[bool]:
            nonlocal tries
            tries += 1
            oks = await self.queue.finish(updates)
            if tries > 1:  # the failed try may have committed some before its answer was lost
                oks = [ok or await self._landed(task, attempt) for (task, attempt), ok in
                       zip(updates, oks, strict=True)]
            return oks

        oks = await self._retrying(finish, "completions", len(batch))
        results = [r for (_, _, r, _), ok in zip(batch, oks, strict=True) if ok and r is not None]
        if results and store is not None:
            # Retried on its own: retrying ``finish`` after it succeeded would be fenced off
            # (the tasks are no longer RUNNING) and the results would be dropped.
            await self._put(store, results)
        self._resolve(batch, oks)

    async def _put(self, store: AsyncResultStore, results: list[ResultRecord]) -> None:
        """Write ``results``; what the store keeps refusing is written one by one, so that
        one it cannot take (too large for it) is the only one given up."""
        try:
            await self._retrying(lambda: store.put_blobs(results), "results", len(results))
        except Exception as exc:  # refused again and again: the tasks are done regardless
            if len(results) > 1:
                for record in results:
                    await self._put(store, [record])
                return
            logger.error("the result store refused the result of completed task %s (%s); "
                         "gave up", results[0].task_id, exc)

    @staticmethod
    def _resolve(batch: list[_Item], oks: list[bool]) -> None:
        for (_, _, _, future), ok in zip(batch, oks, strict=True):
            if not future.done():
                future.set_result(ok)

    async def _landed(self, task: Task, attempt: int) -> bool:
        """Whether the store holds this attempt's own finish of ``task``."""
        stored = await self.queue.get_task(task.id)
        return stored is not None and stored.status == task.status and stored.attempts == attempt

    @staticmethod
    async def _retrying(write: Callable[[], Awaitable[_T]], what: str, count: int) -> _T:
        """Store down: keep the batch and retry, never drop it. An error that is not an
        outage (the store answered no) is tried :data:`REFUSALS` times, then raised: retried
        for ever it would hold every later completion behind it."""
        delay, refused = 0.05, 0
        while True:
            try:
                return await write()
            except Exception as exc:
                if not _transient(exc):
                    refused += 1
                    if refused >= REFUSALS:
                        raise
                logger.warning("could not write %d %s (%s); retrying", count, what, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def stop(self) -> None:
        """Write what is queued, then stop. The writer is told to finish, not cancelled: a
        cancel inside a write would leave finished tasks running and drop their results."""
        if self._writer is None:
            return
        self._pending.put_nowait(None)
        await asyncio.wait({self._writer})  # unlike gather, a cancelled stop() leaves it be
        self._writer = None
