"""The in-process ``memory`` task queue: complete against the contract, not a toy.

Per queue, delayed tasks wait in a heap by eta and runnable ones in a heap by
(-priority, eta, id), checked against the live task when popped (lazy deletion), so updates
never search a heap; counts and the running set are kept as tasks change, so neither a
dashboard nor the lease check scans every task. One lock makes every primitive atomic.
"""

from __future__ import annotations

import heapq
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import msgspec

from .._time import utcnow
from .._waker import Waker
from ..models import (
    RUNNABLE,
    Schedule,
    ScheduleStatus,
    Task,
    TaskStatus,
    WorkerInfo,
    decode_workers,
)
from ..sync import TaskQueue
from ._base import AsyncTaskQueue

if TYPE_CHECKING:
    from ..storage import AsyncResultStore

replace = msgspec.structs.replace


class MemoryTaskQueueConfig(msgspec.Struct, kw_only=True):
    project_name: str | None = None
    queues: list[str] | None = None


class AsyncMemoryTaskQueue(AsyncTaskQueue):
    """Tasks in this process's memory: for tests, notebooks and single-process apps."""

    config_class = MemoryTaskQueueConfig
    pushes_work = True

    def __init__(self, *, project_name: str | None = None, queues: Sequence[str] | None = None,
                 secret_key: str | None = None) -> None:
        super().__init__(project_name=project_name, queues=queues, secret_key=secret_key)
        self._lock = threading.Lock()
        self._tasks: dict[str, Task] = {}
        self._counts: Counter[tuple[str, TaskStatus]] = Counter()
        self._running: set[str] = set()
        self._delayed: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
        self._ready: dict[str, list[tuple[int, datetime, str]]] = defaultdict(list)
        self._children: dict[str, list[str]] = defaultdict(list)
        self._schedules: dict[str, Schedule] = {}
        self._workers: dict[str, bytes] = {}
        self._waker = Waker()

    # -- tasks ---------------------------------------------------------------------------------
    def _store(self, task: Task, old: Task | None) -> None:
        """Put ``task`` in place of ``old`` (None if new); the lock is held."""
        if old is not None:
            self._counts[old.queue_name, old.status] -= 1
        self._counts[task.queue_name, task.status] += 1
        if task.status == TaskStatus.RUNNING:
            self._running.add(task.id)
        else:
            self._running.discard(task.id)
        self._tasks[task.id] = task

    def _index(self, task: Task) -> None:
        if task.status in RUNNABLE:
            heapq.heappush(self._delayed[task.queue_name], (task.run_at, task.id))
            self._waker.notify(task.queue_name)

    async def add_tasks(self, tasks: Sequence[Task]) -> list[bool]:
        inserted = []
        with self._lock:
            for task in tasks:
                if task.id in self._tasks:
                    inserted.append(False)
                    continue
                self._store(task, None)
                for parent in task.depends_on:
                    self._children[parent].append(task.id)
                self._index(task)
                inserted.append(True)
        return inserted

    def _live(self, task_id: str, queue: str) -> Task | None:
        task = self._tasks.get(task_id)
        if task is None or task.queue_name != queue or task.status not in RUNNABLE:
            return None
        return task

    async def claim(self, queues: Sequence[str], *, worker_id: str, lease: float,
                    now: datetime, limit: int = 1) -> list[Task]:
        claimed: list[Task] = []
        expires = now + timedelta(seconds=lease)
        with self._lock:
            for queue in queues:
                delayed, ready = self._delayed[queue], self._ready[queue]
                while delayed and delayed[0][0] <= now:
                    eta, task_id = heapq.heappop(delayed)
                    task = self._live(task_id, queue)
                    if task is not None and task.run_at == eta:
                        heapq.heappush(ready, (-task.priority, eta, task_id))
                while ready and len(claimed) < limit:
                    neg_priority, eta, task_id = heapq.heappop(ready)
                    task = self._live(task_id, queue)
                    if task is None or task.run_at != eta or -neg_priority != task.priority:
                        continue
                    running = replace(task, status=TaskStatus.RUNNING,
                                      attempts=task.attempts + 1, worker_id=worker_id,
                                      started_at=now, lease_expires_at=expires)
                    self._store(running, task)
                    claimed.append(running)
                if len(claimed) >= limit:
                    break
        return claimed

    def default_result_store(self) -> AsyncResultStore:
        """A memory result store: results stay in this process, as the tasks do."""
        from ..storage.memory import AsyncMemoryResultStore

        return AsyncMemoryResultStore(project_name=self.project_name,
                                        secret_key=self._secret_key)

    async def get_task(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    async def update_task(self, task: Task, *, expect_status: Collection[TaskStatus],
                          expect_attempts: int | None = None) -> bool:
        with self._lock:
            stored = self._tasks.get(task.id)
            if stored is None or stored.status not in expect_status:
                return False
            if expect_attempts is not None and stored.attempts != expect_attempts:
                return False
            self._store(task, stored)
            if task.status in RUNNABLE and (stored.status not in RUNNABLE
                                            or stored.run_at != task.run_at
                                            or stored.priority != task.priority):
                self._index(task)
        return True

    async def modify_running(self, task_id: str, attempts: int,
                             change: Callable[[Task], Task]) -> Task | None:
        with self._lock:  # atomic: no other write can land between the read and the write
            stored = self._tasks.get(task_id)
            if stored is None or stored.status != TaskStatus.RUNNING or stored.attempts != attempts:
                return None
            new = change(stored)
            self._store(new, stored)
            return new

    async def list_tasks(self, *, queue_name: str | None = None,
                         status: TaskStatus | None = None, limit: int = 100,
                         offset: int = 0) -> list[Task]:
        with self._lock:
            found = [t for t in self._tasks.values()
                     if (queue_name is None or t.queue_name == queue_name)
                     and (status is None or t.status == status)]
        found.sort(key=lambda t: t.id)
        return found[offset:offset + limit]

    async def page_tasks(self, *, queue_name: str | None = None,
                         status: TaskStatus | None = None, after: str | None = None,
                         descending: bool = False, limit: int = 100) -> list[Task]:
        with self._lock:
            found = [t for t in self._tasks.values()
                     if (queue_name is None or t.queue_name == queue_name)
                     and (status is None or t.status == status)
                     and (after is None or (t.id < after if descending else t.id > after))]
        return heapq.nlargest(limit, found, key=lambda t: t.id) if descending \
            else heapq.nsmallest(limit, found, key=lambda t: t.id)

    async def task_counts(self) -> dict[str, dict[TaskStatus, int]]:
        counts: dict[str, dict[TaskStatus, int]] = {}
        with self._lock:
            for (queue, status), n in self._counts.items():
                if n:
                    counts.setdefault(queue, {})[status] = n
        return counts

    async def count_tasks(self, *, queue_name: str | None = None,
                          status: TaskStatus | None = None) -> int:
        with self._lock:
            return sum(n for (queue, stored), n in self._counts.items()
                       if (queue_name is None or queue == queue_name)
                       and (status is None or stored == status))

    async def expired_leases(self, now: datetime, limit: int = 100) -> list[Task]:
        with self._lock:
            running = (self._tasks[task_id] for task_id in self._running)
            found = [t for t in running
                     if t.lease_expires_at is not None and t.lease_expires_at < now]
        return found[:limit]

    async def dependents(self, task_id: str) -> list[Task]:
        with self._lock:
            return [self._tasks[c] for c in self._children.get(task_id, ()) if c in self._tasks]

    async def delete_tasks(self, task_ids: Sequence[str]) -> int:
        removed = 0
        with self._lock:
            for task_id in task_ids:
                task = self._tasks.pop(task_id, None)
                if task is not None:
                    removed += 1
                    self._counts[task.queue_name, task.status] -= 1
                    self._running.discard(task_id)
                    self._children.pop(task_id, None)
        return removed

    async def wait_for_work(self, queues: Sequence[str], timeout: float) -> None:
        """Return at an enqueue into ``queues``, when their earliest delayed task is due, or
        after ``timeout``."""
        with self._lock:
            etas = [self._delayed[q][0][0] for q in queues if self._delayed.get(q)]
        if etas:
            timeout = min(timeout, max(0.0, (min(etas) - utcnow()).total_seconds()))
        await self._waker.wait(list(queues), timeout)

    # -- schedules -----------------------------------------------------------------------------
    async def add_schedule(self, schedule: Schedule) -> bool:
        with self._lock:
            if schedule.id in self._schedules:
                return False
            self._schedules[schedule.id] = schedule
            return True

    async def get_schedule(self, schedule_id: str) -> Schedule | None:
        return self._schedules.get(schedule_id)

    async def list_schedules(self, *, status: ScheduleStatus | None = None) -> list[Schedule]:
        with self._lock:
            found = [s for s in self._schedules.values() if status is None or s.status == status]
        return sorted(found, key=lambda s: s.id)

    async def update_schedule(self, schedule: Schedule, *, expect_version: int) -> bool:
        with self._lock:
            stored = self._schedules.get(schedule.id)
            if stored is None or stored.version != expect_version:
                return False
            self._schedules[schedule.id] = schedule
            return True

    async def delete_schedule(self, schedule_id: str) -> bool:
        with self._lock:
            return self._schedules.pop(schedule_id, None) is not None

    async def due_schedules(self, now: datetime, limit: int = 100) -> list[Schedule]:
        with self._lock:
            due = [s for s in self._schedules.values() if s.status == ScheduleStatus.ACTIVE
                   and s.next_run_at is not None and s.next_run_at <= now]
        return sorted(due, key=lambda s: (s.next_run_at, s.id))[:limit]


    # -- the worker registry -------------------------------------------------------------------
    # Kept encoded, as other engines keep them: a caller never shares an object with the store.
    async def put_worker(self, worker: WorkerInfo) -> None:
        with self._lock:
            self._workers[worker.id] = msgspec.msgpack.encode(worker)

    async def list_workers(self) -> list[WorkerInfo]:
        with self._lock:
            blobs = list(self._workers.values())
        return decode_workers(blobs)

    async def delete_workers(self, worker_ids: Sequence[str]) -> int:
        with self._lock:
            return sum(self._workers.pop(w, None) is not None for w in worker_ids)


class MemoryTaskQueue(TaskQueue, twin_of=AsyncMemoryTaskQueue):
    """Blocking twin of :class:`AsyncMemoryTaskQueue`."""


__all__ = ["AsyncMemoryTaskQueue", "MemoryTaskQueue", "MemoryTaskQueueConfig"]
