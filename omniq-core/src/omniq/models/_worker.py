"""A worker as it registers itself: who it is, what it serves, when it was last heard from.

msgspec needs the field types at runtime, so this module does not use
``from __future__ import annotations``.
"""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import msgspec

#: A worker that missed this many refreshes of its record in a row is shown as gone (stale).
MISSED_HEARTBEATS = 3
#: Minutes of finished-task counts a worker keeps in its record, for throughput over the last
#: 15 minutes (counted by whole minutes, that window reaches into a 16th).
RECENT_MINUTES = 16


class MinuteCount(msgspec.Struct, frozen=True):
    """Tasks of one queue a worker finished in one minute of wall-clock time."""

    minute: datetime  # the start of the minute (UTC, seconds zero)
    queue: str
    completed: int = 0
    failed: int = 0  # failed attempts, retried or dead-lettered


class WorkerInfo(msgspec.Struct, kw_only=True):
    """One worker, as it keeps itself registered in its task queue's store.

    A worker stores this when it starts, stores it again every ``heartbeat_interval`` seconds
    with ``last_heartbeat`` and its counts brought up to date, and marks it stopped
    (``stopped_at``) on a clean stop: the tasks it finished keep counting in ``omniq status``
    until they are older than :data:`RECENT_MINUTES`, when workers' maintenance removes the
    record. A worker that died leaves its record behind: it is *stale* (:attr:`alive` is False)
    once :data:`MISSED_HEARTBEATS` refreshes are missing, and workers' maintenance removes it an
    hour after its last heartbeat. Times are timezone-aware UTC.
    """

    id: str
    host: str
    pid: int
    worker_type: str
    concurrency: int  # tasks it runs at once (max_workers)
    queues: list[str]  # served in this order
    started_at: datetime
    last_heartbeat: datetime
    heartbeat_interval: float = 5.0  # seconds between two refreshes of this record
    running: int = 0  # tasks it held at its last heartbeat
    completed: int = 0  # tasks completed since it started
    failed: int = 0  # failed attempts since it started (retried or dead-lettered)
    #: Per queue and minute, the tasks it finished in the last :data:`RECENT_MINUTES` minutes.
    recent: list[MinuteCount] = []
    stopped_at: datetime | None = None  # when it stopped cleanly; None while it runs (or died)

    def heartbeat_age(self, now: datetime | None = None) -> float:
        """Seconds since its last heartbeat."""
        return ((now or datetime.now(UTC)) - self.last_heartbeat).total_seconds()

    def is_alive(self, now: datetime | None = None) -> bool:
        """Whether it refreshed its record recently enough (within :data:`MISSED_HEARTBEATS`
        heartbeat intervals) to be taken as running, and has not stopped."""
        return self.stopped_at is None and \
            self.heartbeat_age(now) <= MISSED_HEARTBEATS * self.heartbeat_interval

    @property
    def alive(self) -> bool:
        """:meth:`is_alive` now."""
        return self.is_alive()

    def finished_since(self, since: datetime, queue: str | None = None) -> tuple[int, int]:
        """(completed, failed) in the minutes starting at or after ``since`` (rounded down to
        its minute), for one queue or all."""
        start = since.replace(second=0, microsecond=0)
        done = failed = 0
        for count in self.recent:
            if count.minute >= start and (queue is None or count.queue == queue):
                done += count.completed
                failed += count.failed
        return done, failed


def minute_of(moment: datetime) -> datetime:
    """The start of ``moment``'s minute."""
    return moment.replace(second=0, microsecond=0)


def recent_window(now: datetime) -> datetime:
    """The start of the oldest minute a worker record keeps at ``now``."""
    return minute_of(now) - timedelta(minutes=RECENT_MINUTES - 1)


_decode = msgspec.msgpack.Decoder(WorkerInfo).decode


def decode_workers(blobs: Iterable[bytes]) -> list[WorkerInfo]:
    """The worker records among ``blobs`` (each a msgpack-encoded :class:`WorkerInfo`), by
    id. One that cannot be decoded is left out: the registry only shows workers, and a
    damaged record must not hide the others."""
    found = []
    for blob in blobs:
        try:
            found.append(_decode(blob))
        except msgspec.DecodeError:
            continue
    return sorted(found, key=lambda w: w.id)
