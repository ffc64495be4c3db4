"""Reads for people and dashboards (``omniq status``, ``omniq tasks list``), composed from the
storage interface: filtered pages of tasks, and per-queue depth, wait and throughput.

No call here reads every task. Queue and status select through the store's indexes
(``page_tasks``, ``task_counts``); the filters no index serves (name, tag, time) are checked
on the tasks of that selection, at most ``scan_limit`` of them per call, and the page says
where to go on from. Throughput comes from the workers' own records, not from the tasks.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .._time import utcnow
from ..models import QueueStats, Task, TaskFilter, TaskPage, TaskStatus

if TYPE_CHECKING:
    from ._base import AsyncTaskQueue

#: Tasks looked at per call by :meth:`InspectionMixin.find_tasks` before it returns what it
#: found so far, with a cursor to go on from.
SCAN_LIMIT = 10_000
#: Windows of the throughput figures of :class:`~omniq.models.QueueStats`, in minutes.
WINDOWS = (1, 5, 15)
#: Pages of waiting tasks :meth:`InspectionMixin.oldest_waiting` reads, past tasks not due yet.
_WAIT_PAGES = 3


class InspectionMixin:
    """The inspection reads of :class:`~omniq.queue.AsyncTaskQueue`."""

    async def find_tasks(self: AsyncTaskQueue, filter: TaskFilter | None = None, *, limit: int = 50,
                         after: str | None = None, newest_first: bool = False,
                         scan_limit: int = SCAN_LIMIT) -> TaskPage:
        """Up to ``limit`` tasks passing ``filter``, in id (enqueue) order, newest first if
        asked, starting after the id ``after``.

        Queue and status select through the store's indexes. Name, tag and time filters are
        checked on the selected tasks: when ``scan_limit`` tasks were looked at without
        filling the page, the page comes back short, with ``next_after`` to go on from.
        """
        query = filter or TaskFilter()
        found: list[Task] = []
        cursor = after
        examined = 0
        budget = max(scan_limit, limit)
        size = limit if query.indexed_only else min(max(limit, 200), budget)
        while len(found) < limit and examined < budget:
            page = await self.page_tasks(queue_name=query.queue_name, status=query.status,
                                         after=cursor, descending=newest_first, limit=size)
            for task in page:
                examined += 1
                cursor = task.id
                if query.matches(task):
                    found.append(task)
                    if len(found) == limit:
                        return TaskPage(tasks=found, next_after=cursor, examined=examined)
            if len(page) < size:
                return TaskPage(tasks=found, next_after=None, examined=examined)
        return TaskPage(tasks=found, next_after=cursor, examined=examined)

    async def oldest_waiting(self: AsyncTaskQueue, queue_name: str,
                             now: datetime | None = None) -> float | None:
        """Seconds the longest-waiting runnable task of ``queue_name`` has been due (pending
        or retrying, ``run_at`` passed), or None. Looks at the oldest tasks by enqueue order,
        skipping those not due yet (a few pages at most)."""
        now = now or utcnow()
        oldest = None
        for status in (TaskStatus.PENDING, TaskStatus.RETRYING):
            cursor = None
            for _ in range(_WAIT_PAGES):
                page = await self.page_tasks(queue_name=queue_name, status=status,
                                             after=cursor, limit=100)
                due = [t.run_at for t in page if t.run_at <= now]
                if due:
                    oldest = min(due) if oldest is None else min(oldest, *due)
                    break
                if len(page) < 100:
                    break
                cursor = page[-1].id
        return None if oldest is None else max(0.0, (now - oldest).total_seconds())

    async def queue_stats(self: AsyncTaskQueue, now: datetime | None = None) -> list[QueueStats]:
        """Per queue, by name: tasks by status, the oldest wait, and the tasks registered
        workers finished in the last 1, 5 and 15 minutes. Queues listed: those holding
        tasks, this queue object's own, and those registered workers serve."""
        now = now or utcnow()
        counts = await self.task_counts()
        workers = await self.list_workers()
        names = set(counts) | set(self.queues) | {q for w in workers for q in w.queues}
        stats = []
        for name in sorted(names):
            held = counts.get(name, {})
            waiting = held.get(TaskStatus.PENDING, 0) + held.get(TaskStatus.RETRYING, 0)
            completed: dict[str, int] = {}
            failed: dict[str, int] = {}
            for minutes in WINDOWS:
                since = now - timedelta(minutes=minutes)  # from the start of that minute
                done = [w.finished_since(since, name) for w in workers]
                completed[f"{minutes}m"] = sum(d[0] for d in done)
                failed[f"{minutes}m"] = sum(d[1] for d in done)
            stats.append(QueueStats(
                queue=name, counts={s: held[s] for s in TaskStatus if s in held},
                oldest_waiting=await self.oldest_waiting(name, now) if waiting else None,
                completed=completed, failed=failed))
        return stats
