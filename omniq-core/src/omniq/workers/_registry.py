"""A worker's entry in the worker registry: its record, and the counts that go into it.

The worker stores its :class:`~omniq.models.WorkerInfo` through the task queue's
``put_worker`` when it starts and every ``WORKER_HEARTBEAT`` seconds, and marks it stopped on
a clean stop (kept while its counts are recent); ``omniq status`` and ``list_workers()`` read
them. Counting a finished task is a dict update on the worker's event loop, so the registry
costs the task path nothing else.
"""

from __future__ import annotations

import os
import socket
from collections import Counter
from datetime import datetime

import msgspec

from ..models import MinuteCount, WorkerInfo
from ..models._worker import minute_of, recent_window

#: Seconds after its last heartbeat that a gone worker's record is pruned by maintenance.
PRUNE_AFTER = 3600.0


class Registration:
    """The record of one worker, kept up to date as its tasks finish."""

    def __init__(self, worker_id: str, worker_type: str, concurrency: int, queues: list[str],
                 started_at: datetime, heartbeat_interval: float) -> None:
        self.record = WorkerInfo(
            id=worker_id, host=socket.gethostname(), pid=os.getpid(), worker_type=worker_type,
            concurrency=concurrency, queues=list(queues), started_at=started_at,
            last_heartbeat=started_at, heartbeat_interval=heartbeat_interval)
        # (minute, queue) -> completed, failed; minutes older than the window are dropped at
        # each heartbeat.
        self._completed: Counter[tuple[datetime, str]] = Counter()
        self._failed: Counter[tuple[datetime, str]] = Counter()
        self.completed = self.failed = 0

    def finished(self, queue: str, now: datetime, *, ok: bool) -> None:
        """Count one finished attempt of a task of ``queue``."""
        key = (minute_of(now), queue)
        if ok:
            self._completed[key] += 1
            self.completed += 1
        else:
            self._failed[key] += 1
            self.failed += 1

    def refreshed(self, now: datetime, running: int) -> WorkerInfo:
        """The record as of ``now``, to store: a new one each time, since a store may keep the
        object it is given."""
        start = recent_window(now)
        for counts in (self._completed, self._failed):
            for key in [k for k in counts if k[0] < start]:
                del counts[key]
        keys = sorted(set(self._completed) | set(self._failed))
        recent = [MinuteCount(minute=minute, queue=queue, completed=self._completed[minute, queue],
                              failed=self._failed[minute, queue]) for minute, queue in keys]
        return msgspec.structs.replace(self.record, last_heartbeat=now, running=running,
                                       completed=self.completed, failed=self.failed,
                                       recent=recent)

    def stopped(self, now: datetime) -> WorkerInfo:
        """The last record, of a clean stop at ``now``."""
        return msgspec.structs.replace(self.refreshed(now, 0), stopped_at=now)
