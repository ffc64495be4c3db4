"""OpenTelemetry traces (``opentelemetry-api``): an ``omniq.enqueue`` span in the caller's
trace, whose context each task carries (``Task.trace_context``, signed with the task, so a
record changed in the store is refused like any other change), and ``omniq.claim``,
``omniq.execute`` and ``omniq.complete`` spans under it wherever the task runs. The task's
code runs inside ``omniq.execute``: spans it starts are its children (in thread workers too;
a process-pool child starts a trace of its own).

A trace the sampler dropped still carries its context to the task's code (which runs in it,
so spans the code starts follow the same decision), at little cost: no span is made for an
enqueue whose caller's trace was sampled out when the SDK's ``ParentBased`` sampler would drop
it anyway (the caller's context passes through), nor for a new trace that the SDK's ratio
sampler would drop (its decision depends on the trace id alone, so it is taken here and the
SDK only starts the traces it keeps), nor on the worker for a task whose trace was sampled
out; and with W3C's propagator (OpenTelemetry's default) a plain ``traceparent`` is
written and read here rather than by the propagator (the same header and the same context,
for less).

What the spans are exported to is the application's choice: OmniQ only uses the API, whose
default does nothing; configure an SDK tracer provider (``opentelemetry-sdk``) to record them.
"""

from __future__ import annotations

import contextlib
import random
import re
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from ..models import Task, TaskStatus
from . import Observer, require

#: A W3C ``traceparent`` of version 00: trace id, span id, flags (TraceContext's own pattern
#: admits surrounding blanks; a header with them goes to the propagator).
_TRACEPARENT = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")


def _traceparent(trace_id: int, span_id: int, flags: int) -> str:
    """TraceContext's header for these ids; %-formatting takes half an f-string's time here."""
    return "00-%032x-%016x-%02x" % (trace_id, span_id, flags)  # noqa: UP031


def _attributes(task: Task) -> dict[str, Any]:
    """What every span of one task says of it."""
    return {"messaging.system": "omniq", "messaging.destination.name": task.queue_name,
            "omniq.task.id": task.id, "omniq.task.function": task.func_name,
            "omniq.task.attempt": task.attempts}


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1e9)


class _Within:
    """A context manager that makes ``context`` current inside (none: leaves it) and yields
    ``carried``. A class, not ``contextlib.contextmanager``: the generator machinery costs more
    than the attach itself, and this runs for every enqueue and task of a sampled-out trace."""

    __slots__ = ("_api", "_context", "_carried", "_token")

    def __init__(self, api: Any, context: Any, carried: dict[str, str] | None = None) -> None:
        self._api, self._context, self._carried = api, context, carried

    def __enter__(self) -> Any:  # the carrier (enqueuing), or None (executing)
        if self._context is not None:
            self._token = self._api.attach(self._context)
        return self._carried

    def __exit__(self, *exc: object) -> None:
        if self._context is not None:
            self._api.detach(self._token)


def _drops_unsampled_parents(tracer: Any) -> bool:
    """Whether ``tracer`` is the SDK's and its sampler is ``ParentBased`` with the defaults
    for a parent not sampled (drop, local or remote): a span it starts under such a parent
    would record nothing, whatever its root sampler."""
    sampler = getattr(tracer, "sampler", None)
    if sampler is None:
        return False
    try:
        from opentelemetry.sdk.trace import sampling
    except ImportError:
        return False

    def drops(delegate: Any) -> bool:
        return isinstance(delegate, sampling.StaticSampler) and \
            type(delegate).should_sample is sampling.StaticSampler.should_sample and \
            getattr(delegate, "_decision", None) is sampling.Decision.DROP

    return isinstance(sampler, sampling.ParentBased) and \
        type(sampler).should_sample is sampling.ParentBased.should_sample and \
        drops(getattr(sampler, "_remote_parent_not_sampled", None)) and \
        drops(getattr(sampler, "_local_parent_not_sampled", None))


def _root_ratio_bound(tracer: Any) -> int | None:
    """The bound below which ``tracer`` samples a root span, when that is all its sampler
    does for one: the SDK's ``TraceIdRatioBased`` (alone or as a ``ParentBased`` root, which
    samples the trace ids whose low 64 bits fall under its bound) or a static drop
    (``ALWAYS_OFF``, bound 0). None for any other sampler or tracer: only the SDK can say."""
    sampler = getattr(tracer, "sampler", None)
    if sampler is None or getattr(tracer, "id_generator", None) is None:
        return None
    try:
        from opentelemetry.sdk.trace import sampling
    except ImportError:
        return None
    if isinstance(sampler, sampling.ParentBased) and \
            type(sampler).should_sample is sampling.ParentBased.should_sample:
        sampler = getattr(sampler, "_root", None)
    if type(sampler) is sampling.TraceIdRatioBased:
        return int(sampler.bound)
    if type(sampler) is sampling.StaticSampler and \
            getattr(sampler, "_decision", None) is sampling.Decision.DROP:
        return 0
    return None


_WRAPPING = threading.Lock()


class _PresetTraceIds:
    """An SDK id generator that hands out, once, a trace id drawn before the span is started
    (so the sampler decides on the id the caller already judged), and otherwise asks the
    generator it wraps. Presets are per thread: set and used with no await between."""

    def __init__(self, inner: Any) -> None:
        from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

        self.inner, self._preset = inner, threading.local()
        #: The SDK's default generator draws from ``random``: drawn here without its calls.
        self._random = type(inner) is RandomIdGenerator
        random_ids = getattr(inner, "is_trace_id_random", None)  # newer SDKs flag those
        self.flags = 0x02 if random_ids is not None and random_ids() else 0

    def draw(self) -> tuple[int, int]:
        """A new trace id and span id, as the wrapped generator makes them (never zero)."""
        if self._random:
            trace_id, span_id = random.getrandbits(128), random.getrandbits(64)
            if trace_id and span_id:
                return trace_id, span_id
        return int(self.inner.generate_trace_id()), int(self.inner.generate_span_id())

    def preset(self, trace_id: int | None) -> None:
        self._preset.trace_id = trace_id

    def generate_trace_id(self) -> int:
        trace_id = self._preset.__dict__.get("trace_id")
        if trace_id is None:
            return int(self.inner.generate_trace_id())
        self._preset.trace_id = None
        return int(trace_id)

    def __getattr__(self, name: str) -> Any:  # generate_span_id, is_trace_id_random, ...
        return getattr(self.inner, name)


class TracingObserver(Observer):
    """Spans for enqueue, claim, execute and complete, joined by the task's trace context.

    Args:
        tracer_provider: Where spans go (default: the global one, set by the application).
    """

    #: Parent contexts remembered from claim to finish (so each is parsed once), at most.
    MAX_REMEMBERED = 100_000

    def __init__(self, tracer_provider: Any = None) -> None:
        require("opentelemetry.trace", "opentelemetry-api", "tracing")
        from opentelemetry import baggage, context, propagate, trace

        from .. import __version__

        self._trace, self._propagate, self._context = trace, propagate, context
        self._baggage = baggage
        self._kind = trace.SpanKind
        self._provider = tracer_provider
        self._version = __version__
        self._recording_from: float | None = 0.0 if tracer_provider is None else None
        #: task id -> (the context it carries, whether its trace is sampled).
        self._parents: dict[str, tuple[Any, bool]] = {}
        self._textmap: Any = None  # the global propagator _w3c was worked out for
        self._w3c = False
        self._skips_unsampled: bool | None = None  # _drops_unsampled_parents(self.tracer)
        self._root_bound: int | None = None  # _root_ratio_bound(self.tracer), or -1: none
        self._root_ids: _PresetTraceIds | None = None  # the tracer's ids, when bound >= 0
        self._root_flags: Any = None  # the flags the SDK gives a root it drops (TraceFlags)
        self._flags: dict[str, Any] = {}  # a traceparent's flags field -> its TraceFlags
        self._empty = context.Context()
        self.tracer = trace.get_tracer("omniq", __version__, tracer_provider=tracer_provider)

    def _recording(self) -> bool:
        """False while the application has set no tracer provider: the API's spans would
        record nothing, so none is made (contexts still pass through). Looked up again at
        most once a second until one is set (once set, it stays)."""
        if self._recording_from is None:
            return True
        now = time.monotonic()
        if now < self._recording_from:
            return False
        if isinstance(self._trace.get_tracer_provider(), self._trace.ProxyTracerProvider):
            self._recording_from = now + 1.0
            return False
        self._recording_from = None
        # The provider's own tracer rather than the proxy made before it was set: one call
        # less per span, and its sampler can be read (_drops_unsampled_parents).
        self.tracer = self._trace.get_tracer("omniq", self._version)
        return True

    def _w3c_only(self) -> bool:
        """Whether the global propagator is W3C's: TraceContext, alone or followed by W3C
        Baggage (OpenTelemetry's default), so a span's context travels as a ``traceparent``
        header (and ``tracestate``), nothing else reads or writes one, and an extracted
        context starts empty (the baggage propagator first would start from the current one).
        """
        textmap = self._propagate.get_global_textmap()
        if textmap is not self._textmap:
            from opentelemetry.baggage.propagation import W3CBaggagePropagator
            from opentelemetry.propagators.composite import CompositePropagator
            from opentelemetry.trace.propagation.tracecontext import (
                TraceContextTextMapPropagator,
            )

            parts = [type(p) for p in getattr(textmap, "_propagators", ())] \
                if isinstance(textmap, CompositePropagator) else [type(textmap)]
            self._w3c = parts[:1] == [TraceContextTextMapPropagator] and all(
                p in (TraceContextTextMapPropagator, W3CBaggagePropagator) for p in parts)
            self._textmap = textmap
        return self._w3c

    def _inject(self, carrier: dict[str, str], span: Any, context: Any = None) -> None:
        """Writes ``span``'s context (current in ``context``, default the current one) into
        ``carrier``, as the global propagator does. When that is W3C's and there is neither
        trace state nor baggage to write, the ``traceparent`` is written here, at half the
        propagator's cost, which every enqueue pays."""
        found = span.get_span_context()
        if not found.trace_state and self._w3c_only() and not self._baggage.get_all(context):
            carrier["traceparent"] = _traceparent(found.trace_id, found.span_id,
                                                  found.trace_flags)
        else:
            self._propagate.inject(carrier, context=context)

    def _extract(self, carried: dict[str, str]) -> tuple[Any, bool]:
        """The context a task carries, as the global propagator reads it, and whether its
        trace is sampled. When the propagator is W3C's and the carrier holds a version-00
        ``traceparent`` alone (what OmniQ's enqueue writes without baggage or trace state),
        it is read here instead: the same context, at less than half the propagator's cost,
        which a worker pays for every task, sampled or not (its code runs in the context
        either way)."""
        header = carried.get("traceparent") if len(carried) == 1 else None
        if isinstance(header, str) and _TRACEPARENT.fullmatch(header) and self._w3c_only():
            trace_id, span_id = int(header[3:35], 16), int(header[36:52], 16)
            if trace_id and span_id:  # all zeros: invalid, the propagator says so
                trace = self._trace
                flags = self._flags.get(header[53:])
                if flags is None:  # at most 256 of them
                    flags = self._flags[header[53:]] = trace.TraceFlags(int(header[53:], 16))
                return trace.set_span_in_context(trace.NonRecordingSpan(trace.SpanContext(
                    trace_id, span_id, True, flags)), self._empty), flags.sampled
        context = self._propagate.extract(carried)
        return context, self._trace.get_current_span(context).get_span_context().trace_flags.sampled

    def _parent(self, task: Task) -> tuple[Any, bool]:
        """The context the task carries (an empty one: a root span, never the worker's), and
        whether its trace is sampled: if not, its spans would record nothing (the SDK's
        default sampler follows the parent), so none is made."""
        if not task.trace_context:
            return self._context.Context(), True
        return self._extract(task.trace_context)

    def enqueuing(self) -> contextlib.AbstractContextManager[dict[str, str] | None]:
        carrier: dict[str, str] = {}
        current_context = self._context.get_current()
        current = self._trace.get_current_span(current_context)
        if not self._recording():
            if current.get_span_context().is_valid:
                self._inject(carrier, current)  # the caller's context passes through
            return _Within(self._context, None, carrier or None)
        caller = current.get_span_context()
        if caller.is_valid and not caller.trace_flags.sampled and not current.is_recording():
            if self._skips_unsampled is None:
                self._skips_unsampled = _drops_unsampled_parents(self.tracer)
            if self._skips_unsampled:
                # The caller's trace was sampled out, and the sampler follows the parent: the
                # enqueue span would be dropped, and the worker's after it. Its context passes
                # through as it is (the same trace and flags; the task's code sees the
                # caller's span as its parent, where the dropped span's id would have been).
                self._inject(carrier, current)
                return _Within(self._context, None, carrier)
        root = self._draw_root() if not caller.is_valid else None
        if root is None:
            span = self.tracer.start_span("omniq.enqueue", kind=self._kind.PRODUCER)
        else:
            trace_id, span_id, sampled = root
            if not sampled:
                return self._dropped_root(trace_id, span_id, current_context)
            span = self._start_kept_root(trace_id)
        if span.is_recording():
            return self._recorded(span, carrier)
        # Sampled out: the span is only a context to carry. It is still made current (the
        # plain attach), so spans started while enqueuing (an instrumented client library's)
        # follow the same decision, but without use_span's machinery, which is for spans that
        # record (exceptions, status, end).
        within = self._trace.set_span_in_context(span, current_context)
        self._inject(carrier, span, within)
        return _Within(self._context, within, carrier)

    def _draw_root(self) -> tuple[int, int, bool] | None:
        """The ids of a new trace and whether it is sampled, when the SDK's sampler decides
        roots by trace id alone (``_root_ratio_bound``): the decision is taken here, for a
        fraction of what starting a span through the SDK costs, drawing the ids as the SDK
        would. None for a sampler that only the SDK can run."""
        if self._root_bound is None:
            tracer: Any = self.tracer  # the SDK's, if _root_ratio_bound finds its sampler
            bound = _root_ratio_bound(tracer)
            if bound is not None:
                with _WRAPPING:  # two first enqueues in two threads wrap it once
                    if not isinstance(tracer.id_generator, _PresetTraceIds):
                        tracer.id_generator = _PresetTraceIds(tracer.id_generator)
                    self._root_ids = tracer.id_generator
                    self._root_flags = self._trace.TraceFlags(self._root_ids.flags)
            self._root_bound = -1 if bound is None else bound
        ids = self._root_ids
        if ids is None:
            return None
        trace_id, span_id = ids.draw()
        return trace_id, span_id, trace_id & 0xFFFF_FFFF_FFFF_FFFF < self._root_bound

    def _start_kept_root(self, trace_id: int) -> Any:
        """The enqueue span of a new trace judged sampled, started by the SDK on that id."""
        ids: Any = self._root_ids
        ids.preset(trace_id)
        try:
            return self.tracer.start_span("omniq.enqueue", kind=self._kind.PRODUCER)
        finally:
            ids.preset(None)  # unused if the SDK made no span (a disabled tracer)

    def _dropped_root(self, trace_id: int, span_id: int,
                      current: Any) -> contextlib.AbstractContextManager[dict[str, str] | None]:
        """A new trace judged dropped: its ids in a bare non-recording span, made current
        while enqueuing and carried, as the SDK would for the span it drops."""
        trace, flags = self._trace, self._root_flags
        span = trace.NonRecordingSpan(trace.SpanContext(trace_id, span_id, False, flags))
        within = trace.set_span_in_context(span, current)
        carrier: dict[str, str] = {}
        if not current and self._w3c_only():  # an empty context: no baggage, no trace state
            carrier["traceparent"] = _traceparent(trace_id, span_id, flags)
        else:
            self._inject(carrier, span, within)
        return _Within(self._context, within, carrier)

    @contextlib.contextmanager
    def _recorded(self, span: Any, carrier: dict[str, str]) -> Iterator[dict[str, str] | None]:
        with self._trace.use_span(span, end_on_exit=True):
            self._propagate.inject(carrier)
            yield carrier

    def enqueued(self, tasks: Sequence[Task], inserted: Sequence[bool]) -> None:
        span = self._trace.get_current_span()
        if span.is_recording() and tasks:
            # One span for a whole enqueue_many: the ids are on each task's own spans.
            span.set_attributes(_attributes(tasks[0]) if len(tasks) == 1 else {
                "messaging.system": "omniq", "messaging.batch.message_count": len(tasks),
                "messaging.destination.name": tasks[0].queue_name,
                "omniq.task.function": tasks[0].func_name})

    def claimed(self, tasks: Sequence[Task]) -> None:
        if not self._recording():
            return
        if len(self._parents) > self.MAX_REMEMBERED:  # tasks given back unfinished
            self._parents.clear()
        for task in tasks:
            parent, sampled = self._parents[task.id] = self._parent(task)
            if not sampled:
                continue
            now = time.time_ns()
            span = self.tracer.start_span(
                "omniq.claim", context=parent, kind=self._kind.CONSUMER,
                attributes=_attributes(task),
                start_time=_ns(task.started_at) if task.started_at else now)
            span.end(end_time=now)

    def executing(self, task: Task) -> contextlib.AbstractContextManager[None]:
        if not self._recording():  # no span, but the code runs in the context carried
            return _Within(self._context, self._extract(task.trace_context)[0]) \
                if task.trace_context else contextlib.nullcontext()
        parent, sampled = self._parents.get(task.id) or self._parent(task)
        if not sampled:  # no span, but the code runs in the trace's context
            return _Within(self._context, parent)
        return self._executed(task, parent)

    @contextlib.contextmanager
    def _executed(self, task: Task, parent: Any) -> Iterator[None]:
        # The carried context is made current first: the span is made current within it, so
        # the code sees what else it carries (baggage) as well as the span.
        with _Within(self._context, parent), self.tracer.start_as_current_span(
                "omniq.execute", context=parent, kind=self._kind.CONSUMER,
                attributes=_attributes(task)):
            yield

    def finished(self, task: Task, handed_over: datetime | None) -> None:
        if not self._recording():
            return
        remembered = self._parents.pop(task.id, None)
        parent, sampled = remembered if remembered is not None else self._parent(task)
        if not sampled:
            return
        now = time.time_ns()
        span = self.tracer.start_span(
            "omniq.complete", context=parent, start_time=_ns(handed_over) if handed_over
            else now, attributes={**_attributes(task), "omniq.task.status": task.status.value})
        if task.status in (TaskStatus.FAILED, TaskStatus.RETRYING) and task.error is not None:
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR,
                                               f"{task.error.type}: {task.error.message}"))
        span.end(end_time=now)
