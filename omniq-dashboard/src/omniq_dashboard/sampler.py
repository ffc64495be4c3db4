"""Throughput and latency over time, sampled by the dashboard while it runs.

Every ``interval`` seconds the sampler reads the registered workers' records (each counts
the tasks it completed and the attempts that failed since it started, refreshed at its
heartbeat) and the run times of the COMPLETE events recorded since its last sample (at most
``EVENTS_PER_SAMPLE`` of them, when an event store is configured). Neither reads the tasks, so
sampling costs the same with a million tasks stored. Rates are the differences between
samples; the last hour is kept in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from datetime import UTC, datetime
from typing import NamedTuple

from omniq.models import EventType

from .source import Source

logger = logging.getLogger("omniq.dashboard")
EVENTS_PER_SAMPLE = 1000


class Sample(NamedTuple):
    at: float  # epoch seconds
    completed: dict[str, int]  # per worker id, since it started
    failed: dict[str, int]
    run_p50: float | None  # seconds, of the tasks completed since the previous sample
    run_p95: float | None


class Point(NamedTuple):
    at: float
    completed_per_s: float
    failed_per_s: float
    run_p50: float | None
    run_p95: float | None


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Sampler:
    """Samples in the background of the server's event loop once started."""

    def __init__(self, source: Source, interval: float = 10.0, keep: float = 3600.0) -> None:
        self.source = source
        self.interval = interval
        self.samples: deque[Sample] = deque(maxlen=max(2, int(keep / interval) + 1))
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start sampling on the running loop, if not already."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(),
                                                                name="omniq-dashboard-sampler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.sample()
            except Exception as exc:  # the store is down: try again next time
                logger.warning("dashboard sample failed: %s", exc)
            await asyncio.sleep(self.interval)

    async def sample(self) -> Sample:
        workers = await self.source.workers()
        completed = {w.id: w.completed for w in workers}
        failed = {w.id: w.failed for w in workers}
        now = time.time()
        p50 = p95 = None
        if self.source.has_events and self.samples:
            since = datetime.fromtimestamp(self.samples[-1].at, UTC)
            runs = [float(e.data["duration"]) for e in await self.source.events(
                type=EventType.COMPLETE, since=since, limit=EVENTS_PER_SAMPLE)
                if isinstance(e.data.get("duration"), int | float)]
            if runs:
                p50, p95 = percentile(runs, 0.5), percentile(runs, 0.95)
        sample = Sample(now, completed, failed, p50, p95)
        self.samples.append(sample)
        return sample

    def points(self) -> list[Point]:
        """Rates between consecutive samples."""
        out = []
        pairs = list(self.samples)
        for before, after in zip(pairs, pairs[1:], strict=False):
            span = after.at - before.at
            if span <= 0:
                continue
            out.append(Point(after.at, _delta(before.completed, after.completed) / span,
                             _delta(before.failed, after.failed) / span,
                             after.run_p50, after.run_p95))
        return out


def _delta(before: dict[str, int], after: dict[str, int]) -> int:
    """What the workers counted between two samples; a worker new since ``before`` counts
    from its start."""
    return sum(max(0, count - before.get(worker, 0)) for worker, count in after.items())
