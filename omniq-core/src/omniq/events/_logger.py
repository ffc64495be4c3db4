"""A non-blocking, batched event logger: recording appends to a buffer that a background task
writes to the event store in batches. Without a store events cost nothing; a failing store
never fails a task (the batch is kept, and past a bound the oldest events are dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .._component import forks_so_far
from .._ids import new_id
from .._time import utcnow
from ..models import EventType, Task, TaskEvent

if TYPE_CHECKING:
    from ..storage import AsyncEventStore

logger = logging.getLogger("omniq.events")
MAX_BUFFER = 100_000
#: The longest wait, in seconds, between two tries to write events while the store fails.
RETRY_CAP = 5.0


class EventLogger:
    """Buffers :class:`TaskEvent` s and writes them to ``store`` in batches."""

    def __init__(self, store: AsyncEventStore | None, *, worker_id: str | None = None,
                 batch_size: int = 500, flush_interval: float = 0.1) -> None:
        self.store = store
        self.worker_id = worker_id
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self._buffer: deque[TaskEvent] = deque()
        self._task: asyncio.Task[None] | None = None
        self._forks = 0  # forks_so_far() when the writer started
        self._wake: asyncio.Event | None = None
        self._closing = False
        self._failures = 0  # writes failed in a row
        # One flush at a time: a caller flushing to read its own events must wait for the
        # batch the background writer has already taken off the buffer.
        self._flushing = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        return self.store is not None

    @property
    def buffered(self) -> int:
        """How many events wait to be written."""
        return len(self._buffer)

    def record(self, event: TaskEvent) -> None:
        if self.store is None:
            return
        if len(self._buffer) >= MAX_BUFFER:
            logger.warning("event buffer full (%d); dropping the oldest event", MAX_BUFFER)
            self._buffer.popleft()
        self._buffer.append(event)
        if self._wake is not None and len(self._buffer) >= self.batch_size \
                and not self._failures:  # a failing store is tried at the writer's pace
            self._wake.set()

    def task_event(self, type_: EventType, task: Task, *, message: str | None = None,
                   at: datetime | None = None, **data: Any) -> None:
        """``at``: when it happened, if earlier than now (an enqueue is stamped when its write
        began: a worker may claim the task, and record that, before the write returns)."""
        if self.store is None:
            return
        if message is None and task.error is not None and type_ in (
                EventType.ERROR, EventType.RETRY, EventType.CANCELLED, EventType.DEAD_LETTER):
            message = f"{task.error.type}: {task.error.message}"
        self.record(TaskEvent(
            id=new_id(), type=type_, timestamp=at or utcnow(), task_id=task.id,
            schedule_id=task.schedule_id, queue_name=task.queue_name,
            worker_id=self.worker_id or task.worker_id, attempt=task.attempts,
            message=message, data=data,
        ))

    def schedule_event(self, type_: EventType, schedule_id: str, *, message: str | None = None,
                       queue_name: str | None = None, task_id: str | None = None,
                       **data: Any) -> None:
        if self.store is None:
            return
        self.record(TaskEvent(id=new_id(), type=type_, timestamp=utcnow(), task_id=task_id,
                              schedule_id=schedule_id, queue_name=queue_name,
                              worker_id=self.worker_id, message=message, data=data))

    async def start(self) -> None:
        """Start the background writer in the running loop (idempotent; started again in a
        new loop when the one it ran in has ended)."""
        if self.store is None or (self._task is not None and not self._writer_is_gone()):
            return
        self._wake, self._flushing = asyncio.Event(), asyncio.Lock()
        self._closing = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name="omniq-events")
        self._forks = forks_so_far()

    async def _run(self) -> None:
        assert self._wake is not None
        while not self._closing:
            # While the store fails, tries come less often, up to every RETRY_CAP seconds.
            wait = min(RETRY_CAP, self.flush_interval * 2 ** self._failures)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write everything buffered so far, including a batch another flush is writing."""
        async with self._flushing:
            while self._buffer and self.store is not None:
                batch = [self._buffer.popleft() for _ in range(min(self.batch_size,
                                                                    len(self._buffer)))]
                try:
                    await self.store.append(batch)
                except Exception as exc:  # events must never fail tasks
                    self._buffer.extendleft(reversed(batch))
                    self._failures += 1
                    # Once per outage, not at every try: the worker logs the outage too.
                    log = logger.warning if self._failures == 1 else logger.debug
                    log("could not write %d events (%s: %s); they are kept and written when "
                        "the event store answers", len(self._buffer), type(exc).__name__, exc)
                    return
                if self._failures:
                    self._failures = 0
                    logger.warning("event store answers again: writing the events kept")

    def _writer_is_gone(self) -> bool:
        """Whether the writer's loop has ended, or was a parent's before this process forked
        (nothing runs it here)."""
        assert self._task is not None
        return self._task.get_loop().is_closed() or self._forks != forks_so_far()

    async def stop(self) -> None:
        """Flush what is left and stop the background writer."""
        if self._task is not None and self._writer_is_gone():
            if self._forks != forks_so_far():
                self._buffer.clear()  # the parent's events: it writes them
            self._task = None
        if self._task is not None:
            # Ask the writer to finish rather than cancel it: a cancel landing inside
            # ``store.append`` would lose the batch it had taken off the buffer.
            self._closing = True
            assert self._wake is not None
            self._wake.set()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.flush()
