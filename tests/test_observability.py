"""Metrics and traces on real backends (sqlite and redis): the observer hook sees each step,
Prometheus counters, histograms and queue depths (also over a worker's metrics port), and
OpenTelemetry spans joined from the enqueue into the task's execution (the SDK's in-memory
exporter); a trace context changed in the store is refused; a missing optional package is
named."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from omniq import AsyncOmniQ, OmniQ, TaskFailedError
from omniq.exceptions import ConfigError, SignatureError
from omniq.models import Task, TaskStatus, binding
from omniq.observe import Observer, installed, observe
from omniq.observe.metrics import PrometheusObserver, exposition
from omniq.observe.tracing import TracingObserver
from omniq.testing import _tasks
from opentelemetry import baggage, context, propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.trace import TracerProvider, sampling
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import CollectorRegistry

pytestmark = pytest.mark.anyio
FAST = {"poll_interval": 0.05, "maintenance_interval": 0.1}


@pytest.fixture(params=["sqlite", "redis"])
async def oq(request: pytest.FixtureRequest, project_name: str,
             tmp_path: Path) -> AsyncIterator[AsyncOmniQ]:
    if request.param == "sqlite":
        options: dict[str, Any] = {"base_dir": str(tmp_path)}
    else:
        options = {"url": request.getfixturevalue("redis_url")}
    async with AsyncOmniQ(project_name=project_name, backend_type=request.param,
                          **options) as client:
        yield client


def scrape(host: str, port: int) -> tuple[int, str, str]:
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


def span_ids() -> tuple[str, str]:
    """A task that reports the span its code runs in: (trace id, span id)."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def span_ids_and_baggage() -> tuple[str, str, dict[str, Any]]:
    """A task that reports the span its code runs in and the baggage it sees."""
    return (*span_ids(), dict(baggage.get_all()))


class Recorder(Observer):
    """Writes down every call it gets."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    @contextmanager
    def _around(self, step: str, what: Any) -> Any:
        self.calls.append((step, what))
        yield {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"} \
            if step == "enqueuing" else None
        self.calls.append((f"/{step}", what))

    def enqueuing(self) -> AbstractContextManager[dict[str, str] | None]:
        return self._around("enqueuing", None)

    def enqueued(self, tasks: Sequence[Task], inserted: Sequence[bool]) -> None:
        self.calls.append(("enqueued", [(t.id, new) for t, new in zip(tasks, inserted,
                                                                         strict=True)]))

    def claimed(self, tasks: Sequence[Task]) -> None:
        self.calls.append(("claimed", [t.id for t in tasks]))

    def executing(self, task: Task) -> AbstractContextManager[None]:
        return self._around("executing", task.id)

    def finished(self, task: Task, handed_over: datetime | None) -> None:
        self.calls.append(("finished", (task.id, task.status)))


async def test_no_observer_is_installed_unless_asked(oq: AsyncOmniQ) -> None:
    assert oq.task_queue.observer is None


async def test_an_observer_sees_enqueue_claim_execution_and_finish(oq: AsyncOmniQ) -> None:
    recorder = Recorder()
    observe(oq.task_queue, recorder)
    first = await oq.enqueue(_tasks.add, 1, 2, task_id="obs-1")
    assert await oq.enqueue(_tasks.add, 1, 2, task_id="obs-1") == first  # stored once
    await oq.start_worker(worker_type="async", **FAST)
    assert await oq.get_result(first, timeout=10) == 3
    await oq.stop_worker()
    assert recorder.calls[:6] == [
        ("enqueuing", None), ("enqueued", [(first, True)]), ("/enqueuing", None),
        ("enqueuing", None), ("enqueued", [(first, False)]), ("/enqueuing", None)]
    assert recorder.calls[6:] == [
        ("claimed", [first]), ("executing", first), ("/executing", first),
        ("finished", (first, TaskStatus.COMPLETED))]
    # What enqueuing yielded travels with the task.
    assert (await oq.get_task(first)).trace_context == {
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}


async def test_prometheus_counts_and_times_tasks_by_queue_and_function(
        oq: AsyncOmniQ) -> None:
    registry = CollectorRegistry()
    observe(oq.task_queue, PrometheusObserver(registry))
    ok = [await oq.enqueue(_tasks.add, i, i) for i in range(3)]
    bad = await oq.enqueue(_tasks.fail, "boom", max_retries=1, retry_delay=0.01)
    await oq.start_worker(worker_type="async", **FAST)
    for task_id in ok:
        await oq.get_result(task_id, timeout=10)
    with pytest.raises(TaskFailedError):
        await oq.get_result(bad, timeout=10)
    await oq.stop_worker()

    def value(name: str, func: Any) -> float | None:
        labels = {"queue": "default", "function": f"{func.__module__}:{func.__qualname__}"}
        return registry.get_sample_value(name, labels)

    add, fail = _tasks.add, _tasks.fail
    assert value("omniq_tasks_enqueued_total", add) == 3
    assert value("omniq_tasks_enqueued_total", fail) == 1
    assert value("omniq_tasks_started_total", add) == 3
    assert value("omniq_tasks_started_total", fail) == 2
    assert value("omniq_tasks_completed_total", add) == 3
    assert value("omniq_tasks_failed_total", fail) == 2
    assert value("omniq_tasks_retried_total", fail) == 1
    assert value("omniq_tasks_dead_lettered_total", fail) == 1
    assert value("omniq_tasks_completed_total", fail) == 0
    assert value("omniq_task_run_seconds_count", add) == 3
    assert value("omniq_task_wait_seconds_count", fail) == 2
    assert 0 < value("omniq_task_run_seconds_sum", add) < 5

    await oq.enqueue(_tasks.add, 0, 0, run_in=3600)
    await oq.enqueue(_tasks.add, 0, 0, queue_name="unserved")  # a backlog nobody takes
    text = (await exposition(oq.task_queue, ["default", "idle"])).decode()
    assert 'omniq_queue_depth{queue="default",status="pending"} 1.0' in text
    assert 'omniq_queue_depth{queue="unserved",status="pending"} 1.0' in text
    assert 'omniq_queue_depth{queue="idle",status="pending"} 0.0' in text  # named: zeros too
    assert 'omniq_queue_depth{queue="default",status="failed"} 1.0' in text
    assert 'omniq_queue_depth{queue="default",status="running"} 0.0' in text
    assert 'omniq_tasks_completed_total{function="omniq.testing._tasks:add",queue="default"} ' \
           '3.0' in text


def test_histograms_count_a_value_on_a_bound_in_that_bucket_and_every_later_one() -> None:
    registry = CollectorRegistry()
    observer = PrometheusObserver(registry)
    due = datetime(2026, 1, 1)
    waits = [0.005, 0.004, 0.3, 7200.0]  # on a bound, under it, between two, past the last
    observer.claimed([Task(id=str(i), func_name="f", payload=b"", created_at=due, run_at=due,
                           started_at=due + timedelta(seconds=w)) for i, w in enumerate(waits)])

    def bucket(le: str) -> float | None:
        return registry.get_sample_value("omniq_task_wait_seconds_bucket",
                                         {"queue": "default", "function": "f", "le": le})

    assert [bucket(le) for le in ("0.0025", "0.005", "0.25", "0.5", "3600.0", "+Inf")] == \
        [0, 2, 2, 3, 3, 4]
    assert registry.get_sample_value("omniq_task_wait_seconds_sum", {
        "queue": "default", "function": "f"}) == pytest.approx(sum(waits))
    with pytest.raises(ValueError, match="Duplicated"):  # one set of names per registry
        PrometheusObserver(registry)


async def test_a_worker_serves_its_metrics_on_loopback_when_given_a_port(
        oq: AsyncOmniQ) -> None:
    registry = CollectorRegistry()
    observe(oq.task_queue, PrometheusObserver(registry))
    worker = await oq.start_worker(worker_type="async", metrics_port=0, **FAST)
    try:
        host, port = worker.metrics_address
        assert host == "127.0.0.1"
        assert await oq.get_result(await oq.enqueue(_tasks.add, 2, 2), timeout=10) == 4
        # From a thread: the worker serves on this test's event loop. The task is counted
        # right after its result is stored.
        for _ in range(100):
            status, content_type, text = await asyncio.to_thread(scrape, host, port)
            if 'add",queue="default"} 1.0' in text:
                break
            await asyncio.sleep(0.05)
        assert status == 200 and content_type.startswith("text/plain")
    finally:
        await oq.stop_worker()
    assert 'omniq_tasks_completed_total{function="omniq.testing._tasks:add",queue="default"} ' \
           '1.0' in text
    assert 'omniq_queue_depth{queue="default",status="pending"} 0.0' in text
    assert worker.metrics_address is None  # closed with the worker


async def test_a_metrics_port_in_use_or_a_bad_host_is_refused_with_its_name(oq: AsyncOmniQ) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot serve metrics on 127.0.0.1:{port}"):
            await oq.start_worker(worker_type="async", metrics_port=port, **FAST)
    assert oq.worker is None
    for host in ("nosuchhost.invalid", "127.0.0.1:9100", "192.0.2.1"):  # not an address of ours
        with pytest.raises(ConfigError, match="metrics_host") as refused:
            await oq.start_worker(worker_type="async", metrics_port=0, metrics_host=host, **FAST)
        assert "an address of this machine, without a port" in str(refused.value), host
    assert oq.worker is None
    task_id = await oq.enqueue(_tasks.add, 1, 1)
    await asyncio.sleep(0.3)  # nothing was left running to take it
    assert (await oq.get_task(task_id)).status == TaskStatus.PENDING


@pytest.mark.parametrize("worker_type", ["thread_pool", "process_pool"])
async def test_a_worker_that_cannot_start_reports_why(project_name: str, worker_type: str) -> None:
    from omniq import BackendUnavailableError, plugins
    from omniq_redis import AsyncRedisTaskQueue

    queue = AsyncRedisTaskQueue(project_name=project_name, url="redis://127.0.0.1:1/0")
    worker = plugins.resolve("worker", worker_type)(queue, max_workers=1)
    with pytest.raises(BackendUnavailableError):  # not a pool it never started failing to stop
        await worker.start()


async def test_metrics_are_off_by_default_and_on_from_the_settings(
        oq: AsyncOmniQ, monkeypatch: pytest.MonkeyPatch) -> None:
    worker = await oq.start_worker(worker_type="async", **FAST)
    assert worker.metrics_address is None and oq.task_queue.observer is None
    await oq.stop_worker()
    monkeypatch.setenv("OMNIQ_METRICS", "true")
    monkeypatch.setenv("OMNIQ_TRACING", "true")
    again = AsyncOmniQ(project_name=oq.project_name, backend=oq.backend)
    assert {type(o) for o in installed(again.task_queue)} == {PrometheusObserver,
                                                               TracingObserver}


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def traced(oq: AsyncOmniQ, exporter: InMemorySpanExporter, sampler: Any = None) -> TracerProvider:
    """A tracer provider that records into ``exporter`` (with the SDK's default sampler unless
    given one), observing ``oq``."""
    provider = TracerProvider() if sampler is None else TracerProvider(sampler=sampler)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    observe(oq.task_queue, TracingObserver(tracer_provider=provider))
    return provider


def caller_span(flags: int) -> Any:
    """The caller's span, as an incoming request's trace context makes it."""
    return trace.NonRecordingSpan(trace.SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C, span_id=0xB7AD6B7169203331,
        is_remote=True, trace_flags=trace.TraceFlags(flags)))


@pytest.mark.parametrize("worker_type", ["async", "thread_pool"])
async def test_a_trace_runs_from_enqueue_into_the_task_code(
        oq: AsyncOmniQ, exporter: InMemorySpanExporter, worker_type: str) -> None:
    provider = traced(oq, exporter)
    with provider.get_tracer("test").start_as_current_span("request") as request:
        task_id = await oq.enqueue(span_ids)
    await oq.start_worker(worker_type=worker_type, **FAST)
    seen_trace, seen_span = await oq.get_result(task_id, timeout=10)
    await oq.stop_worker()
    provider.force_flush()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"request", "omniq.enqueue", "omniq.claim", "omniq.execute",
                          "omniq.complete"}
    trace_id = request.get_span_context().trace_id
    assert {s.context.trace_id for s in spans.values()} == {trace_id}
    enqueue = spans["omniq.enqueue"]
    assert enqueue.parent.span_id == request.get_span_context().span_id
    for name in ("omniq.claim", "omniq.execute", "omniq.complete"):
        assert spans[name].parent.span_id == enqueue.context.span_id, name
    for name in ("omniq.enqueue", "omniq.claim", "omniq.execute", "omniq.complete"):
        attributes = spans[name].attributes
        assert attributes["omniq.task.id"] == task_id, name
        assert attributes["messaging.destination.name"] == "default", name
        assert attributes["omniq.task.function"].endswith(":span_ids"), name
        assert attributes["omniq.task.attempt"] == (0 if name == "omniq.enqueue" else 1), name
    assert {s.attributes.get("messaging.system") for n, s in spans.items()
            if n != "request"} == {"omniq"}
    # The task's own code ran inside the execute span.
    assert (seen_trace, seen_span) == (format(trace_id, "032x"),
                                       format(spans["omniq.execute"].context.span_id, "016x"))
    assert spans["omniq.enqueue"].kind == trace.SpanKind.PRODUCER
    assert spans["omniq.complete"].attributes["omniq.task.status"] == "completed"
    assert spans["omniq.claim"].start_time <= spans["omniq.claim"].end_time \
        <= spans["omniq.execute"].start_time


async def test_without_a_tracer_provider_no_span_is_made_but_the_context_passes(
        oq: AsyncOmniQ) -> None:
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        pytest.skip("this process has set a global tracer provider")
    observe(oq.task_queue, TracingObserver())
    with trace.use_span(caller_span(1)):
        task_id = await oq.enqueue(span_ids)
    assert (await oq.get_task(task_id)).trace_context == {
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    untraced = await oq.enqueue(span_ids)
    assert (await oq.get_task(untraced)).trace_context is None
    await oq.start_worker(worker_type="async", **FAST)
    assert await oq.get_result(task_id, timeout=10) == ("0af7651916cd43dd8448eb211c80319c",
                                                        "b7ad6b7169203331")
    assert await oq.get_result(untraced, timeout=10) == ("0" * 32, "0" * 16)
    await oq.stop_worker()


async def test_a_sampled_out_trace_makes_no_span_but_reaches_the_code(
        oq: AsyncOmniQ, exporter: InMemorySpanExporter) -> None:
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    traced(oq, exporter, ALWAYS_OFF)
    task_id = await oq.enqueue(span_ids)
    carried = (await oq.get_task(task_id)).trace_context
    assert carried is not None
    assert int(carried["traceparent"].split("-")[3], 16) & 1 == 0  # the sampled flag is off
    await oq.start_worker(worker_type="async", **FAST)
    seen_trace, _ = await oq.get_result(task_id, timeout=10)
    await oq.stop_worker()
    assert exporter.get_finished_spans() == ()
    assert seen_trace == carried["traceparent"].split("-")[1]


async def test_a_caller_sampled_out_passes_its_context_through_without_spans(
        oq: AsyncOmniQ, exporter: InMemorySpanExporter) -> None:
    # The SDK's default sampler, ParentBased: under a parent not sampled, every span is
    # dropped; so the enqueue makes none and the task carries the caller's own context.
    provider = traced(oq, exporter)
    with trace.use_span(caller_span(2)):  # random id, not sampled
        task_id = await oq.enqueue(span_ids)
    assert (await oq.get_task(task_id)).trace_context == {
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-02"}
    await oq.start_worker(worker_type="async", **FAST)
    assert await oq.get_result(task_id, timeout=10) == ("0af7651916cd43dd8448eb211c80319c",
                                                        "b7ad6b7169203331")
    await oq.stop_worker()
    provider.force_flush()
    assert exporter.get_finished_spans() == ()


async def test_a_sampler_that_keeps_unsampled_parents_still_gets_its_enqueue_span(
        oq: AsyncOmniQ, exporter: InMemorySpanExporter) -> None:
    # Not the default decision for a parent not sampled: the SDK is asked, and records.
    provider = traced(oq, exporter, sampling.ParentBased(
        sampling.ALWAYS_ON, remote_parent_not_sampled=sampling.ALWAYS_ON))
    with trace.use_span(caller_span(0)):
        task_id = await oq.enqueue(span_ids)
    await oq.start_worker(worker_type="async", **FAST)
    await oq.get_result(task_id, timeout=10)
    await oq.stop_worker()
    provider.force_flush()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"omniq.enqueue", "omniq.claim", "omniq.execute", "omniq.complete"}
    assert spans["omniq.enqueue"].parent.span_id == 0xB7AD6B7169203331


async def test_sampled_and_sampled_out_tasks_side_by_side(
        oq: AsyncOmniQ, exporter: InMemorySpanExporter) -> None:
    # Roots are dropped, children of a sampled caller kept: one worker runs both kinds, and
    # records all four spans of the sampled task and none of the other's.
    provider = traced(oq, exporter, sampling.ParentBased(sampling.ALWAYS_OFF))
    caller = caller_span(1).get_span_context()
    with trace.use_span(caller_span(1)):
        sampled = await oq.enqueue(span_ids)
    dropped = [await oq.enqueue(span_ids) for _ in range(3)]
    carried = [(await oq.get_task(t)).trace_context for t in dropped]
    await oq.start_worker(worker_type="async", **FAST)
    seen_sampled = await oq.get_result(sampled, timeout=10)
    seen_dropped = [await oq.get_result(t, timeout=10) for t in dropped]
    await oq.stop_worker()
    provider.force_flush()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert len(exporter.get_finished_spans()) == 4
    assert set(spans) == {"omniq.enqueue", "omniq.claim", "omniq.execute", "omniq.complete"}
    assert {s.context.trace_id for s in spans.values()} == {caller.trace_id}
    assert seen_sampled == (format(caller.trace_id, "032x"),
                            format(spans["omniq.execute"].context.span_id, "016x"))
    for seen, parent in zip(seen_dropped, carried, strict=True):  # each in its own trace
        assert parent is not None and int(parent["traceparent"][-2:], 16) & 1 == 0
        assert seen == tuple(parent["traceparent"].split("-")[1:3])


async def test_a_root_sampled_by_trace_id_is_decided_as_the_sdk_decides_it(
        oq: AsyncOmniQ, exporter: InMemorySpanExporter) -> None:
    # OmniQ takes the ratio sampler's decision for a new trace itself (cheaper than starting a
    # span through the SDK): a trace is recorded exactly when its id is under the sampler's
    # bound, a recorded enqueue span has the ids the task carries, and every trace is new.
    ratio = sampling.TraceIdRatioBased(0.5)
    asked: list[int] = []  # the trace ids the SDK's sampler was asked about
    decide = ratio.should_sample

    def should_sample(*args: Any, **kwargs: Any) -> sampling.SamplingResult:
        asked.append(kwargs["trace_id"] if "trace_id" in kwargs else args[1])
        return decide(*args, **kwargs)

    ratio.should_sample = should_sample  # type: ignore[method-assign]
    provider = traced(oq, exporter, sampling.ParentBased(ratio))
    random.seed(20261206)  # the SDK's ids come from random: the same split every run
    task_ids = [await oq.enqueue(span_ids) for _ in range(60)]
    carried = [(await oq.get_task(t)).trace_context or {} for t in task_ids]
    provider.force_flush()
    recorded = {(s.context.trace_id, s.context.span_id) for s in exporter.get_finished_spans()}
    ids = [tuple(int(part, 16) for part in c["traceparent"].split("-")[1:])
           for c in carried]
    sampled = [(trace_id, span_id) for trace_id, span_id, flags in ids if flags & 1]
    assert 0 < len(sampled) < len(ids)
    assert recorded == set(sampled)
    assert asked == [trace_id for trace_id, _ in sampled]  # a dropped root is not started
    assert all(bool(flags & 1) == (trace_id & ratio.TRACE_ID_LIMIT < ratio.bound)
               for trace_id, _, flags in ids)
    assert len({trace_id for trace_id, _, _ in ids}) == len(ids)
    # A dropped trace carries the flags the SDK gives a dropped root (the random-id flag).
    dropped_by_sdk = TracerProvider(sampler=sampling.ALWAYS_OFF).get_tracer("t").start_span("x")
    assert {flags for _, _, flags in ids if not flags & 1} == \
        {int(dropped_by_sdk.get_span_context().trace_flags)}
    # The worker records the sampled tasks' spans and none of the others'.
    await oq.start_worker(worker_type="async", **FAST)
    seen = [await oq.get_result(t, timeout=10) for t in task_ids]
    await oq.stop_worker()
    provider.force_flush()
    assert sum(s.name == "omniq.execute" for s in exporter.get_finished_spans()) == len(sampled)
    assert [(int(trace_id, 16)) for trace_id, _ in seen] == [i[0] for i in ids]


async def test_a_root_sampler_only_the_sdk_can_run_is_asked_for_each_trace(
        oq: AsyncOmniQ, exporter: InMemorySpanExporter) -> None:
    class EveryOther(sampling.Sampler):
        """Samples every other root: a decision no trace id tells."""

        def __init__(self) -> None:
            self.asked = 0

        def should_sample(self, *args: Any, **kwargs: Any) -> sampling.SamplingResult:
            self.asked += 1
            return sampling.SamplingResult(sampling.Decision.RECORD_AND_SAMPLE
                                           if self.asked % 2 else sampling.Decision.DROP)

        def get_description(self) -> str:
            return "EveryOther"

    root = EveryOther()
    provider = traced(oq, exporter, sampling.ParentBased(root))
    for _ in range(4):
        await oq.enqueue(span_ids)
    provider.force_flush()
    assert root.asked == 4
    assert [s.name for s in exporter.get_finished_spans()] == ["omniq.enqueue"] * 2


#: A worker process as an application runs one with tracing: its own SDK tracer provider (the
#: same ratio sampler as the client's, spans written to a file), then ``omniq worker``.
TRACED_WORKER = """
import runpy, sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider, sampling
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

provider = TracerProvider(sampler=sampling.ParentBased(sampling.TraceIdRatioBased(0.5)))
out = open(sys.argv[1], "w", buffering=1)
provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(
    out=out, formatter=lambda s: f"{s.name} {s.context.trace_id:032x}\\n")))
trace.set_tracer_provider(provider)
sys.argv = ["omniq", "worker", "--url", sys.argv[2], "--project", "p", "--type", "async"]
runpy.run_module("omniq", run_name="__main__")
"""


def test_a_trace_crosses_into_a_worker_process(
        tmp_path: Path, exporter: InMemorySpanExporter) -> None:
    # The client and the worker sample with the same ratio, each in its own process: the
    # worker records its three spans for exactly the traces the client kept, in those traces.
    url = f"sqlite:///{tmp_path}/x.db"
    spans = tmp_path / "worker-spans.txt"
    worker = subprocess.Popen(
        [sys.executable, "-c", TRACED_WORKER, str(spans), url],
        env={**os.environ, "OMNIQ_TRACING": "true"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        provider = TracerProvider(
            sampler=sampling.ParentBased(sampling.TraceIdRatioBased(0.5)))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        with OmniQ(project_name="p", task_queue=url) as oq:
            observe(oq.task_queue, TracingObserver(tracer_provider=provider))
            task_ids = [oq.enqueue(_tasks.identity, n) for n in range(20)]
            assert [oq.get_result(t, timeout=30) for t in task_ids] == list(range(20))
            carried = [(oq.get_task(t).trace_context or {})["traceparent"] for t in task_ids]
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, worker.communicate()[1]
    kept = {header.split("-")[1] for header in carried if int(header[-2:], 16) & 1}
    assert 0 < len(kept) < 20  # 2 ** -19 for either end by chance
    assert {format(s.context.trace_id, "032x") for s in exporter.get_finished_spans()} == kept
    recorded = [line.split() for line in spans.read_text().splitlines()]
    assert sorted(recorded) == sorted([name, trace_id] for trace_id in kept for name in
                                      ("omniq.claim", "omniq.execute", "omniq.complete"))


@pytest.fixture
def textmap() -> Iterator[Callable[[Any], None]]:
    """Sets the global propagator for the test."""
    previous = propagate.get_global_textmap()
    yield propagate.set_global_textmap
    propagate.set_global_textmap(previous)


class RenamedTraceContext(TraceContextTextMapPropagator):
    """W3C's format under another header name: a propagator OmniQ does not read itself."""

    def inject(self, carrier: Any, context: Any = None, setter: Any = None) -> None:
        found: dict[str, str] = {}
        super().inject(found, context)
        if "traceparent" in found:
            carrier["x-parent"] = found["traceparent"]

    def extract(self, carrier: Any, context: Any = None, getter: Any = None) -> Any:
        header = carrier.get("x-parent")
        return super().extract({"traceparent": header} if header else {}, context)


@pytest.mark.parametrize("propagator", [
    CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()]),
    RenamedTraceContext(),
], ids=["w3c", "other"])
@pytest.mark.parametrize("sampled", [True, False])
async def test_the_global_propagator_decides_what_a_task_carries(
        oq: AsyncOmniQ, exporter: InMemorySpanExporter, textmap: Callable[[Any], None],
        propagator: Any, sampled: bool) -> None:
    textmap(propagator)
    provider = traced(oq, exporter,
                      sampling.ALWAYS_ON if sampled else sampling.ALWAYS_OFF)
    token = context.attach(baggage.set_baggage("tenant", "acme"))
    try:
        with_baggage = await oq.enqueue(span_ids_and_baggage)
    finally:
        context.detach(token)
    plain = await oq.enqueue(span_ids_and_baggage)
    carried = (await oq.get_task(with_baggage)).trace_context, \
        (await oq.get_task(plain)).trace_context
    await oq.start_worker(worker_type="async", **FAST)
    seen = [await oq.get_result(t, timeout=10) for t in (with_baggage, plain)]
    await oq.stop_worker()
    provider.force_flush()
    header = "traceparent" if isinstance(propagator, CompositePropagator) else "x-parent"
    for found in carried:
        assert found is not None and int(found[header][-2:], 16) & 1 == int(sampled)
    if header == "traceparent":
        assert carried[0]["baggage"] == "tenant=acme"
        assert set(carried[1]) == {"traceparent"}
        assert seen[0][2] == {"tenant": "acme"}  # the code runs in the context carried
    else:
        assert set(carried[0]) == set(carried[1]) == {"x-parent"}
    assert seen[1][2] == {}
    for found, (trace_id, _, _) in zip(carried, seen, strict=True):
        assert trace_id == found[header].split("-")[1]  # the code ran in the carried trace
    names = sorted(s.name for s in exporter.get_finished_spans())
    assert names == (sorted(["omniq.enqueue", "omniq.claim", "omniq.execute",
                             "omniq.complete"] * 2) if sampled else [])


@pytest.mark.parametrize("carried", [
    {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
    {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-02"},
    {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"},
    {"traceparent": "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"},
    {"traceparent": "00-00000000000000000000000000000000-b7ad6b7169203331-01"},
    {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01"},
    {"traceparent": "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-later"},
    {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-no"},
    {"traceparent": " 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\n"},
    {"traceparent": "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
    {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
     "tracestate": "vendor=1"},
    {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
     "baggage": "tenant=acme"},
    {"traceparent": ""},
    {"other": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
])
def test_a_carried_context_is_read_as_the_propagator_reads_it(carried: dict[str, str]) -> None:
    # The worker reads a lone traceparent itself, for speed: it must come to the same context.
    observer = TracingObserver(tracer_provider=TracerProvider())
    (ours, sampled), theirs = observer._extract(carried), propagate.extract(carried)
    assert trace.get_current_span(ours).get_span_context() == \
        trace.get_current_span(theirs).get_span_context()
    assert sampled == trace.get_current_span(theirs).get_span_context().trace_flags.sampled
    assert dict(baggage.get_all(ours)) == dict(baggage.get_all(theirs))


@pytest.mark.parametrize("state", [None, trace.TraceState([("vendor", "1")])])
@pytest.mark.parametrize("flags", [0, 1, 2, 3])
@pytest.mark.parametrize("with_baggage", [False, True])
def test_a_context_is_written_as_the_propagator_writes_it(
        state: Any, flags: int, with_baggage: bool) -> None:
    observer = TracingObserver(tracer_provider=TracerProvider())
    span = trace.NonRecordingSpan(trace.SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C, span_id=0x00AD6B7169203331,
        is_remote=False, trace_flags=trace.TraceFlags(flags), trace_state=state))
    within = trace.set_span_in_context(span, baggage.set_baggage("tenant", "acme")
                                       if with_baggage else None)
    ours: dict[str, str] = {}
    theirs: dict[str, str] = {}
    observer._inject(ours, span, within)
    propagate.inject(theirs, context=within)
    assert ours == theirs


async def test_a_failed_task_leaves_an_error_span(
        oq: AsyncOmniQ, exporter: InMemorySpanExporter) -> None:
    traced(oq, exporter)
    task_id = await oq.enqueue(_tasks.fail, "broken")
    await oq.start_worker(worker_type="async", **FAST)
    with pytest.raises(TaskFailedError):
        await oq.get_result(task_id, timeout=10)
    await oq.stop_worker()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert spans["omniq.execute"].status.status_code == trace.StatusCode.ERROR
    assert spans["omniq.execute"].events[0].name == "exception"
    assert spans["omniq.complete"].status.description == "ValueError: broken"


async def test_a_trace_context_changed_in_the_store_is_refused(oq: AsyncOmniQ) -> None:
    queue = oq.task_queue
    task = queue.build_task(_tasks.add, 1, 2, trace_context={
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
    queue.serializer.load_call(task.payload, binding(task.id, task))  # as signed: fine
    for changed in ({"traceparent": "00-ffffffffffffffffffffffffffffffff-b7ad6b7169203331-01"},
                    None):
        task.trace_context = changed
        with pytest.raises(SignatureError):
            queue.serializer.load_call(task.payload, binding(task.id, task))
    plain = queue.build_task(_tasks.add, 1, 2)
    plain.trace_context = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b71692033"
                                          "31-01"}
    with pytest.raises(SignatureError):
        queue.serializer.load_call(plain.payload, binding(plain.id, plain))


@pytest.mark.parametrize(("module", "distribution", "option"), [
    ("prometheus_client", "prometheus-client", "metrics"),
    ("opentelemetry", "opentelemetry-api", "tracing"),
])
async def test_turning_a_feature_on_without_its_package_names_the_package(
        project_name: str, monkeypatch: pytest.MonkeyPatch, module: str, distribution: str,
        option: str) -> None:
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.setattr(PrometheusObserver, "_shared", None)
    with pytest.raises(ConfigError) as caught:
        AsyncOmniQ(project_name=project_name, backend_type="memory", **{option: True})
    message = str(caught.value)
    assert f"pip install {distribution}" in message
    assert "omniq[" not in message  # never the unrelated distribution's extras
