"""What metrics and traces cost: no-op task throughput with observability off and on, on Redis
and SQLite, in one run (modes interleaved, medians of the repeats).

    .venv/bin/python bench/observability.py [--tasks 5000] [--repeats 3] [--backends redis,sqlite]

Each run enqueues ``--tasks`` no-op tasks one by one (the client's side), then drains them with
an ``async`` worker at concurrency 10 in the same process (the worker's side). Each side is
measured as throughput (wall clock) and as this process's CPU time per task (every thread:
the worker's, the span exporter's): on a shared machine the CPU time is the steadier measure
of what observability adds, since the servers' work does not change with it. Modes:

- ``off``: no observer installed (the default);
- ``metrics``: Prometheus counters and histograms (``prometheus-client``);
- ``tracing``: OpenTelemetry spans through the API with no SDK configured (what an application
  that has not set up tracing pays);
- ``tracing+sdk``: spans recorded by the SDK (``opentelemetry-sdk``) and handed to a batch
  processor whose exporter drops them (the SDK's own cost, without any network);
- ``tracing+sdk 1%``: the same with the SDK sampling 1% of traces (``ParentBased(
  TraceIdRatioBased(0.01))``), as high-volume deployments run it;
- ``both``: metrics and SDK tracing (every span) together.

A second table times the observers alone (no store, one task's calls at a time, this process's
CPU time including the span exporter's thread; medians of ``--repeats`` rounds, modes
interleaved) and sets that against each backend's CPU per task with observability off: the
steady figure when the machine is shared and the end-to-end rows are noisy. A third turns it
into the most throughput the observers can take from each side (see its heading).

A mode whose package is missing is skipped. Needs Redis on 127.0.0.1:6379 for the redis rows.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

from omniq import AsyncOmniQ
from omniq.models import TaskStatus
from omniq.observe import Observer, observe
from omniq.testing._tasks import noop


def _metrics() -> list[Observer]:
    from omniq.observe.metrics import PrometheusObserver
    from prometheus_client import CollectorRegistry

    return [PrometheusObserver(CollectorRegistry())]


def _tracing_api() -> list[Observer]:
    from omniq.observe.tracing import TracingObserver

    return [TracingObserver()]  # the API's default provider: non-recording spans


def _tracing_sdk(ratio: float = 1.0) -> list[Observer]:
    from omniq.observe.tracing import TracingObserver
    from opentelemetry.sdk.trace import TracerProvider, sampling
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Drop(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider(
        sampler=sampling.ParentBased(sampling.TraceIdRatioBased(ratio)))
    # A queue that holds every span of a run: none is dropped uncounted, and the processor
    # exports in its own batches (of 512, as configured by default), as it would in service.
    provider.add_span_processor(BatchSpanProcessor(Drop(), max_queue_size=1 << 16))
    return [TracingObserver(tracer_provider=provider)]


MODES: dict[str, tuple[tuple[str, ...], Callable[[], list[Observer]]]] = {
    "off": ((), list),
    "metrics": (("prometheus_client",), _metrics),
    "tracing": (("opentelemetry",), _tracing_api),
    "tracing+sdk": (("opentelemetry.sdk",), _tracing_sdk),
    "tracing+sdk 1%": (("opentelemetry.sdk",), lambda: _tracing_sdk(0.01)),
    "both": (("prometheus_client", "opentelemetry.sdk"), lambda: _metrics() + _tracing_sdk()),
}


def _providers(observers: list[Observer]) -> list[Any]:
    """The SDK tracer providers the observers of a mode were given (to flush, to shut down)."""
    return [p for o in observers if (p := getattr(o, "_provider", None)) is not None]


#: A database of its own: ``bench/run.py`` refuses to run on one holding keys it did not write.
REDIS_URL = "redis://127.0.0.1:6379/14"


def available(mode: str) -> bool:
    try:
        return all(importlib.util.find_spec(m) is not None for m in MODES[mode][0])
    except ModuleNotFoundError:
        return False


async def one_run(backend: str, mode: str, tasks: int, where: str) -> tuple[float, ...]:
    """(enqueues per second, CPU µs per enqueue, tasks processed per second, CPU µs per
    processed task) for one fresh project."""
    options = {"url": REDIS_URL} if backend == "redis" else {"base_dir": where}
    project = f"obsbench{uuid.uuid4().hex[:10]}"
    gc.collect()  # the garbage of the run before is not this run's
    observers = MODES[mode][1]()
    providers = _providers(observers)
    async with AsyncOmniQ(project_name=project, backend_type=backend, **options) as oq:
        for observer in observers:
            observe(oq.task_queue, observer)
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(tasks):
            await oq.enqueue(noop, store_result=False)
        enqueue_rate = tasks / (time.perf_counter() - started)
        enqueue_cpu = (time.process_time() - cpu) / tasks * 1e6
        started, cpu = time.perf_counter(), time.process_time()
        await oq.start_worker(worker_type="async", max_workers=10, poll_interval=0.01)
        while await oq.task_queue.count_tasks(status=TaskStatus.COMPLETED) < tasks:
            await asyncio.sleep(0.01)
        for provider in providers:  # the spans still queued for export are this run's cost
            provider.shutdown()  # (and its export thread must not run into the next run)
        drain_rate = tasks / (time.perf_counter() - started)
        drain_cpu = (time.process_time() - cpu) / tasks * 1e6
        await oq.stop_worker()
    if backend == "redis":  # nothing left behind (the worker registry and queue sets too)
        await _forget(project)
    return enqueue_rate, enqueue_cpu, drain_rate, drain_cpu


async def _forget(project: str) -> None:
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"omniq:{{{project}}}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def hook_cost(mode: str, rounds: int = 5000) -> tuple[float, float]:
    """CPU µs the observers of ``mode`` take per task: (client side, worker side)."""
    from omniq._time import utcnow
    from omniq.models import TaskStatus as Status
    from omniq.observe import Observers
    from omniq.queue.memory import AsyncMemoryTaskQueue

    gc.collect()
    found = MODES[mode][1]()
    if not found:
        return 0.0, 0.0
    observer = found[0] if len(found) == 1 else Observers(found)
    queue = AsyncMemoryTaskQueue(project_name="hookcost")
    tasks = []
    providers = _providers(found)

    def flush() -> None:  # spans queued for export are part of the cost
        for provider in providers:
            provider.force_flush()

    cpu = time.process_time()
    for _ in range(rounds):
        with observer.enqueuing() as carried:
            task = queue.build_task(noop, trace_context=carried)
            observer.enqueued([task], [True])
        tasks.append(task)
    flush()
    client = time.process_time() - cpu
    build = time.process_time()
    for _ in range(rounds):
        queue.build_task(noop)
    client -= time.process_time() - build  # building the task is not the observer's
    cpu = time.process_time()
    for task in tasks:
        task.started_at, task.status = utcnow(), Status.RUNNING
        observer.claimed([task])
        with observer.executing(task):
            pass
        task.status = Status.COMPLETED
        observer.finished(task, utcnow())
    flush()
    worker = time.process_time() - cpu
    bare = time.process_time()
    for task in tasks:  # the same steps without the observer: not its cost either
        task.started_at, task.status = utcnow(), Status.RUNNING
        task.status = Status.COMPLETED
        utcnow()
    worker -= time.process_time() - bare
    for provider in providers:  # its export thread stops here, not in a later round
        provider.shutdown()
    return client / rounds * 1e6, worker / rounds * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", default="redis,sqlite")
    args = parser.parse_args()
    modes = [m for m in MODES if available(m)]
    skipped = [m for m in MODES if m not in modes]
    figures: dict[tuple[str, str], list[tuple[float, ...]]] = {}
    with tempfile.TemporaryDirectory() as where:
        for _ in range(args.repeats):
            for backend in args.backends.split(","):
                for mode in modes:  # interleaved, so drift in the machine hits every mode
                    figures.setdefault((backend, mode), []).append(
                        await one_run(backend, mode, args.tasks, where))
    backends = args.backends.split(",")
    # With observability off: enqueues /s, CPU µs an enqueue, tasks /s, CPU µs a task.
    off = {b: [statistics.median(f[i] for f in figures[(b, "off")]) for i in range(4)]
           for b in backends}
    print(f"{args.tasks} no-op tasks, async worker at concurrency 10, medians of "
          f"{args.repeats} runs" + (f"; skipped (package missing): {', '.join(skipped)}"
                                    if skipped else ""))
    print()
    print("| backend | mode | enqueue /s | CPU µs per enqueue | vs off | processed /s "
          "| CPU µs per task | vs off |")
    print("|---|---|---|---|---|---|---|---|")
    for backend in backends:
        base = off[backend]
        for mode in modes:
            enq, enq_cpu, drain, drain_cpu = (
                statistics.median(f[i] for f in figures[(backend, mode)]) for i in range(4))
            print(f"| {backend} | {mode} | {enq:,.0f} | {enq_cpu:,.0f} "
                  f"| {100 * (enq_cpu / base[1] - 1):+.1f}% | {drain:,.0f} | {drain_cpu:,.0f} "
                  f"| {100 * (drain_cpu / base[3] - 1):+.1f}% |")
    print()
    print("The observers alone, per task (CPU µs), and as a share of each backend's CPU per "
          "task with observability off:")
    print()
    print("| mode | client µs | worker µs | " + " | ".join(
        f"{b}: client | {b}: worker" for b in backends) + " |")
    print("|---|---|---|" + "---|---|" * len(backends))
    costs: dict[str, list[tuple[float, float]]] = {}
    for _ in range(args.repeats):  # interleaved too: one run alone moves by half on a busy box
        for mode in modes[1:]:
            costs.setdefault(mode, []).append(hook_cost(mode))
    medians = {mode: [statistics.median(c[i] for c in costs[mode]) for i in range(2)]
               for mode in modes[1:]}
    for mode, (client, worker) in medians.items():
        shares = " | ".join(f"{100 * client / off[b][1]:.1f}% | {100 * worker / off[b][3]:.1f}%"
                            for b in backends)
        print(f"| {mode} | {client:.1f} | {worker:.1f} | {shares} |")
    print()
    print("The most throughput they can take: an enqueue, and a task's claim, run and finish, "
          "run on one event loop, where each µs of CPU added adds at most a µs of wall time, so "
          "at a throughput T with observability off and c seconds of CPU added per task, "
          "throughput falls at most to T / (1 + cT):")
    print()
    print("| mode | " + " | ".join(f"{b}: enqueue /s | {b}: processed /s" for b in backends)
          + " |")
    print("|---|" + "---|---|" * len(backends))
    def most_lost(cpu_us: float, rate: float) -> str:
        added = cpu_us * 1e-6 * rate
        return f"-{100 * added / (1 + added):.1f}%"

    for mode, (client, worker) in medians.items():
        bounds = " | ".join(f"{most_lost(client, off[b][0])} | {most_lost(worker, off[b][2])}"
                            for b in backends)
        print(f"| {mode} | {bounds} |")


if __name__ == "__main__":
    asyncio.run(main())
