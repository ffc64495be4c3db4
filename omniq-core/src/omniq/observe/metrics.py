"""Prometheus metrics (``prometheus-client``): task counters and histograms by queue and
function, recorded by :class:`PrometheusObserver`; queue depths counted on each scrape through
the task queue's ``count_tasks``; and the small HTTP endpoint a worker serves them on
(``metrics_port``, off by default, bound to 127.0.0.1 unless told otherwise).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar, NamedTuple

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


class _Series(NamedTuple):
    """The label children of one (queue, function): looked up once, then used directly."""

    enqueued: Any
    started: Any
    completed: Any
    failed: Any
    retried: Any
    dead_lettered: Any
    run: Any
    wait: Any


class PrometheusObserver(Observer):
    """Counts and times tasks into a Prometheus registry (the default one unless given)."""

    _shared: ClassVar[PrometheusObserver | None] = None

    def __init__(self, registry: Any = None) -> None:
        prom = _prometheus()
        self.registry = registry if registry is not None else prom.REGISTRY
        labels = ("queue", "function")

        def counter(name: str, doc: str) -> Any:
            return prom.Counter(name, doc, labels, registry=self.registry)

        def histogram(name: str, doc: str) -> Any:
            return prom.Histogram(name, doc, labels, buckets=BUCKETS, registry=self.registry)

        self._families = _Series(
            counter("omniq_tasks_enqueued", "Tasks stored by enqueue"),
            counter("omniq_tasks_started", "Attempts whose code started"),
            counter("omniq_tasks_completed", "Tasks that completed"),
            counter("omniq_tasks_failed", "Attempts that failed (retried or dead-lettered)"),
            counter("omniq_tasks_retried", "Failed attempts that will be retried"),
            counter("omniq_tasks_dead_lettered", "Tasks that failed for good"),
            histogram("omniq_task_run_seconds", "Seconds a task's code ran"),
            histogram("omniq_task_wait_seconds", "Seconds from due to claimed"),
        )
        self._series: dict[tuple[str, str], _Series] = {}

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
            found = self._series[key] = _Series(*(f.labels(*key) for f in self._families))
        return found

    def enqueued(self, tasks: Sequence[Task], inserted: Sequence[bool]) -> None:
        for task, new in zip(tasks, inserted, strict=True):
            if new:
                self.series(task).enqueued.inc()

    def claimed(self, tasks: Sequence[Task]) -> None:
        for task in tasks:
            if task.started_at is not None:
                waited = (task.started_at - task.run_at).total_seconds()
                self.series(task).wait.observe(max(waited, 0.0))

    def executing(self, task: Task) -> Any:
        series = self.series(task)
        series.started.inc()
        return series.run.time()

    def finished(self, task: Task, handed_over: datetime | None) -> None:
        series = self.series(task)
        if task.status == TaskStatus.COMPLETED:
            series.completed.inc()
        elif task.status == TaskStatus.RETRYING:
            series.failed.inc()
            series.retried.inc()
        elif task.status == TaskStatus.FAILED:
            series.failed.inc()
            series.dead_lettered.inc()


async def queue_depths(queue: Any, queues: Sequence[str]) -> dict[tuple[str, str], int]:
    """``{(queue, status): count}`` through the task queue's counts (one call per pair)."""
    return {(name, status.value): await queue.count_tasks(queue_name=name, status=status)
            for name in queues for status in DEPTH_STATUSES}


async def exposition(queue: Any, queues: Sequence[str], registry: Any = None) -> bytes:
    """The Prometheus text format: the metrics of ``registry`` (default: that of the
    :class:`PrometheusObserver` on ``queue``, else the default one) and ``omniq_queue_depth``
    of ``queues``, counted now."""
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
        raise ConfigError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}",
                          field="metrics_port", value=port,
                          expected="a free port (0: any free port), or no metrics_port") from None
    logger.info("metrics served on http://%s:%d/metrics", *server.sockets[0].getsockname()[:2])
    return server
