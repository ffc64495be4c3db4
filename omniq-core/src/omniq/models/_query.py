"""Inspecting a project: which tasks to list (:class:`TaskFilter`), a page of them
(:class:`TaskPage`), and what each queue holds (:class:`QueueStats`).

msgspec needs the field types at runtime, so this module does not use
``from __future__ import annotations``.
"""

import fnmatch
from datetime import datetime

import msgspec

from ._task import Task, TaskStatus


class TaskFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which tasks to list; every field given must match.

    ``queue_name`` and ``status`` select through the store's indexes; ``name``, ``tag``,
    ``since`` and ``until`` are checked on the tasks of that selection (see
    :meth:`omniq.queue.AsyncTaskQueue.find_tasks`).
    """

    queue_name: str | None = None
    status: TaskStatus | None = None
    #: A glob (``*``, ``?``, ``[...]``) matched against the task's name and its function
    #: (``module:qualname``); either may match.
    name: str | None = None
    #: A tag the task carries.
    tag: str | None = None
    #: Enqueued at or after this time.
    since: datetime | None = None
    #: Enqueued before this time.
    until: datetime | None = None

    @property
    def indexed_only(self) -> bool:
        """Whether the store's selection (queue and status) is the whole filter."""
        return self.name is None and self.tag is None and self.since is None \
            and self.until is None

    def matches(self, task: Task) -> bool:
        """Whether ``task`` passes every filter."""
        if self.queue_name is not None and task.queue_name != self.queue_name:
            return False
        if self.status is not None and task.status != self.status:
            return False
        if self.tag is not None and self.tag not in task.tags:
            return False
        if self.since is not None and task.created_at < self.since:
            return False
        if self.until is not None and task.created_at >= self.until:
            return False
        if self.name is not None:
            names = [n for n in (task.name, task.func_name) if n]
            if not any(fnmatch.fnmatchcase(n, self.name) for n in names):
                return False
        return True


class TaskPage(msgspec.Struct, kw_only=True):
    """One page of tasks, and where the next one starts."""

    tasks: list[Task]
    #: Pass as ``after=`` to get the next page; None when no task is left to look at.
    next_after: str | None
    #: Tasks looked at to fill this page (more than ``len(tasks)`` when filters that no
    #: index serves skipped some).
    examined: int = 0


class QueueStats(msgspec.Struct, kw_only=True):
    """What one queue holds and how fast it drains."""

    queue: str
    #: Tasks by status (statuses with none are left out).
    counts: dict[TaskStatus, int]
    #: Seconds the longest-waiting runnable task has been due; None when none is waiting.
    oldest_waiting: float | None = None
    #: Tasks completed (and attempts failed) by registered workers in the last 1, 5 and 15
    #: minutes, keys ``"1m"``, ``"5m"``, ``"15m"``. Workers count by whole minutes, so each
    #: window starts at the beginning of the minute that long ago.
    completed: dict[str, int] = {}
    failed: dict[str, int] = {}

    @property
    def total(self) -> int:
        return sum(self.counts.values())
