"""Prometheus metrics (``prometheus-client``): task counters and histograms by queue and
function, recorded by :class:`PrometheusObserver`; queue depths counted on each scrape through
the task queue's ``count_tasks``; and the small HTTP endpoint a worker serves them on
(``metrics_port``, off by default, bound to 127.0.0.1 unless told otherwise).
"""

from __future__ import annotations

import asyncio
import bisect
import errno
import itertools
import logging
import socket
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from ..exceptions import ConfigError
from ..models import Task, TaskStatus
from . import Observer, installed, require

logger = logging.getLogger("omniq.metrics")
#: The statuses a queue's depth is reported in (the dead letters are ``failed``).
DEPTH_STATUSES = (TaskStatus.PENDING, TaskStatus.RETRYING, TaskStatus.WAITING,
                  TaskStatus.RUNNING, TaskStatus.FAILED)
#: Seconds; from a no-op task's milliseconds to a long batch job.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
           60.0, 300.0, 900.0, 3600.0)


def _prometheus() -> Any:
    return require("prometheus_client", "prometheus-client", "metrics")


#: The counters, in the order :class:`_Series` keeps them: (name, help).
COUNTERS = (("omniq_tasks_enqueued", "Tasks stored by enqueue"),
            ("omniq_tasks_started", "Attempts whose code started"),
            ("omniq_tasks_completed", "Tasks that completed"),
            ("omniq_tasks_failed", "Attempts that failed (retried or dead-lettered)"),
            ("omniq_tasks_retried", "Failed attempts that will be retried"),
            ("omniq_tasks_dead_lettered", "Tasks that failed for good"))
ENQUEUED, STARTED, COMPLETED, FAILED, RETRIED, DEAD_LETTERED = range(len(COUNTERS))
#: The histograms, in the order :class:`_Series` keeps them: (name, help).
HISTOGRAMS = (("omniq_task_run_seconds", "Seconds a task's code ran"),
              ("omniq_task_wait_seconds", "Seconds from due to claimed"))
RUN, WAIT = range(len(HISTOGRAMS))


class _Series:
    """The numbers of one (queue, function): counters, and per histogram the count in each
    bucket (the last: above every bound) and the sum. Plain numbers, changed under the
    observer's lock and read on scrape: prometheus-client's own metric objects cost about
    twice as much per task, each value behind a lock of its own."""

    __slots__ = ("counts", "buckets", "sums")

    def __init__(self) -> None:
        self.counts = [0] * len(COUNTERS)
        self.buckets = [[0] * (len(BUCKETS) + 1) for _ in HISTOGRAMS]
        self.sums = [0.0] * len(HISTOGRAMS)


class _Timed:
    """Times the block it wraps into the run-time histogram of ``series``."""

    __slots__ = ("_observer", "_series", "_start")

    def __init__(self, observer: PrometheusObserver, series: _Series) -> None:
        self._observer, self._series = observer, series

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self._observer._observe(self._series, RUN, time.perf_counter() - self._start)


class PrometheusObserver(Observer):
    """Counts and times tasks, by queue and function, into a Prometheus registry (the default
    one unless given), where they are read on each scrape."""

    _shared: ClassVar[PrometheusObserver | None] = None

    def __init__(self, registry: Any = None) -> None:
        prom = _prometheus()
        self.registry = registry if registry is not None else prom.REGISTRY
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str], _Series] = {}
        self.registry.register(self)

    @classmethod
    def shared(cls) -> PrometheusObserver:
        """The process's observer on the default registry (metrics register only once)."""
        if cls._shared is None:
            cls._shared = cls()
        return cls._shared

    def series(self, task: Task) -> _Series:
        key = (task.queue_name, task.func_name)
        found = self._series.get(key)
        if found is None:
            with self._lock:
                found = self._series.setdefault(key, _Series())
        return found

    def _observe(self, series: _Series, histogram: int, seconds: float) -> None:
        with self._lock:
            series.buckets[histogram][bisect.bisect_left(BUCKETS, seconds)] += 1
            series.sums[histogram] += seconds

    def _count(self, series: _Series, *counters: int) -> None:
        with self._lock:
            for counter in counters:
                series.counts[counter] += 1

    def enqueued(self, tasks: Sequence[Task], inserted: Sequence[bool]) -> None:
        for task, new in zip(tasks, inserted, strict=True):
            if new:
                self._count(self.series(task), ENQUEUED)

    def claimed(self, tasks: Sequence[Task]) -> None:
        for task in tasks:
            if task.started_at is not None:
                waited = (task.started_at - task.run_at).total_seconds()
                self._observe(self.series(task), WAIT, max(waited, 0.0))

    def executing(self, task: Task) -> Any:
        series = self.series(task)
        self._count(series, STARTED)
        return _Timed(self, series)

    def finished(self, task: Task, handed_over: datetime | None) -> None:
        if task.status == TaskStatus.COMPLETED:
            self._count(self.series(task), COMPLETED)
        elif task.status == TaskStatus.RETRYING:
            self._count(self.series(task), FAILED, RETRIED)
        elif task.status == TaskStatus.FAILED:
            self._count(self.series(task), FAILED, DEAD_LETTERED)

    def describe(self) -> list[Any]:
        """The families without samples: what the registry checks names against."""
        return self._families({})

    def collect(self) -> list[Any]:
        """The families with every series' numbers as they are now (the registry's scrape)."""
        with self._lock:
            taken = {key: (list(s.counts), [list(b) for b in s.buckets], list(s.sums))
                     for key, s in self._series.items()}
        return self._families(taken)

    @staticmethod
    def _families(taken: dict[tuple[str, str], tuple[list[int], list[list[int]],
                                                    list[float]]]) -> list[Any]:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        labels = ["queue", "function"]
        counters = [CounterMetricFamily(name, doc, labels=labels) for name, doc in COUNTERS]
        histograms = [HistogramMetricFamily(name, doc, labels=labels)
                      for name, doc in HISTOGRAMS]
        bounds = [*map(str, BUCKETS), "+Inf"]
        for key, (counts, buckets, sums) in taken.items():
            for counter, count in zip(counters, counts, strict=True):
                counter.add_metric(list(key), count)
            for histogram, in_bucket, total in zip(histograms, buckets, sums, strict=True):
                cumulative = itertools.accumulate(in_bucket)
                histogram.add_metric(list(key), list(zip(bounds, cumulative, strict=True)),
                                     sum_value=total)
        return [*counters, *histograms]


async def queue_depths(queue: Any, queues: Sequence[str]) -> dict[tuple[str, str], int]:
    """``{(queue, status): count}`` for ``queues`` (zeros included) and for every other queue
    holding tasks: a backlog in a queue no worker serves is what an alert is for. One call to
    the store's ``task_counts``."""
    counts = await queue.task_counts()
    names = dict.fromkeys([*queues, *sorted(counts)])
    return {(name, status.value): counts.get(name, {}).get(status, 0)
            for name in names for status in DEPTH_STATUSES}


async def exposition(queue: Any, queues: Sequence[str], registry: Any = None) -> bytes:
    """The Prometheus text format: the metrics of ``registry`` (default: that of the
    :class:`PrometheusObserver` on ``queue``, else the default one) and ``omniq_queue_depth``
    of ``queues`` and of every queue holding tasks, counted now."""
    prom = _prometheus()
    if registry is None:
        registry = next((o.registry for o in installed(queue)
                         if isinstance(o, PrometheusObserver)), prom.REGISTRY)
    from prometheus_client.core import GaugeMetricFamily

    depth = GaugeMetricFamily("omniq_queue_depth", "Tasks in a queue by status, counted on "
                              "scrape (failed: the dead letters)", labels=["queue", "status"])
    for (name, status), count in (await queue_depths(queue, queues)).items():
        depth.add_metric([name, status], count)

    class _Now:
        def collect(self) -> Any:
            yield depth

    now = prom.CollectorRegistry(auto_describe=False)
    now.register(_Now())
    return bytes(prom.generate_latest(registry) + prom.generate_latest(now))


async def serve(queue: Any, queues: Sequence[str], host: str, port: int) -> asyncio.Server:
    """Serve :func:`exposition` over HTTP on ``host:port`` (``port`` 0: any free port) from the
    running loop; ``GET /metrics`` (any path) answers, until the server is closed."""
    content_type = _prometheus().CONTENT_TYPE_LATEST.encode()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            try:
                body, status = await exposition(queue, queues), b"200 OK"
            except Exception as exc:  # the store is down: say so rather than hang up
                body, status = f"omniq: cannot count tasks: {exc}\n".encode(), \
                    b"503 Service Unavailable"
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: " + content_type
                         + b"\r\nContent-Length: " + str(len(body)).encode()
                         + b"\r\nConnection: close\r\n\r\n" + body)
            await writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # a client that hung up or sent no request
        finally:
            writer.close()

    try:
        server = await asyncio.start_server(answer, host, port)
    except OSError as exc:
        if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
            raise ConfigError(f"cannot serve metrics on {host!r}: {exc.strerror or exc}",
                              field="metrics_host", value=host,
                              expected="an address of this machine, without a port: 127.0.0.1 "
                                       "(the default), 0.0.0.0 (every interface) or a name "
                                       "that resolves to one") from None
        raise ConfigError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}",
                          field="metrics_port", value=port,
                          expected="a free port (0: any free port), or no metrics_port") from None
    logger.info("metrics served on http://%s:%d/metrics", *server.sockets[0].getsockname()[:2])
    return server
