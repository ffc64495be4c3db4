"""OpenTelemetry traces (``opentelemetry-api``): an ``omniq.enqueue`` span in the caller's
trace, whose context each task carries (``Task.trace_context``, signed with the task, so a
record changed in the store is refused like any other change), and ``omniq.claim``,
``omniq.execute`` and ``omniq.complete`` spans under it wherever the task runs. The task's
code runs inside ``omniq.execute``: spans it starts are its children (in thread workers too;
a process-pool child starts a trace of its own).

What the spans are exported to is the application's choice: OmniQ only uses the API, whose
default does nothing; configure an SDK tracer provider (``opentelemetry-sdk``) to record them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from ..models import Task, TaskStatus
from . import Observer, require


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1e9)


class TracingObserver(Observer):
    """Spans for enqueue, claim, execute and complete, joined by the task's trace context.

    Args:
        tracer_provider: Where spans go (default: the global one, set by the application).
    """

    #: Parent contexts remembered from claim to finish (so each is parsed once), at most.
    MAX_REMEMBERED = 100_000

    def __init__(self, tracer_provider: Any = None) -> None:
        require("opentelemetry.trace", "opentelemetry-api", "tracing")
        from opentelemetry import context, propagate, trace

        from .. import __version__

        self._trace, self._propagate, self._context = trace, propagate, context
        self._kind = trace.SpanKind
        self._provider = tracer_provider
        self._recording_from: float | None = 0.0 if tracer_provider is None else None
        self._parents: dict[str, Any] = {}
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
        return True

    def _dropped(self, task: Task, parent: Any) -> bool:
        """Whether the enqueue's trace was sampled out: its spans would record nothing (the
        SDK's default sampler follows the parent), so none is made here."""
        return bool(task.trace_context) and \
            not self._trace.get_current_span(parent).get_span_context().trace_flags.sampled

    def _parent(self, task: Task) -> Any:
        """The context the task carries, or an empty one (a root span, never the worker's)."""
        found = self._parents.get(task.id)
        if found is None:
            found = self._propagate.extract(task.trace_context) if task.trace_context \
                else self._context.Context()
        return found

    @contextlib.contextmanager
    def enqueuing(self) -> Iterator[dict[str, str] | None]:
        carrier: dict[str, str] = {}
        if not self._recording():
            if self._trace.get_current_span().get_span_context().is_valid:
                self._propagate.inject(carrier)  # the caller's context passes through
            yield carrier or None
            return
        with self.tracer.start_as_current_span("omniq.enqueue", kind=self._kind.PRODUCER):
            self._propagate.inject(carrier)
            yield carrier or None

    def enqueued(self, tasks: Sequence[Task], inserted: Sequence[bool]) -> None:
        span = self._trace.get_current_span()
        if span.is_recording() and tasks:
            span.set_attributes({"messaging.destination.name": tasks[0].queue_name,
                                 "messaging.batch.message_count": len(tasks),
                                 "omniq.task.id": tasks[0].id,
                                 "omniq.task.function": tasks[0].func_name})

    def claimed(self, tasks: Sequence[Task]) -> None:
        if not self._recording():
            return
        if len(self._parents) > self.MAX_REMEMBERED:  # tasks given back unfinished
            self._parents.clear()
        now = time.time_ns()
        for task in tasks:
            parent = self._parents[task.id] = self._parent(task)
            if self._dropped(task, parent):
                continue
            span = self.tracer.start_span(
                "omniq.claim", context=parent, kind=self._kind.CONSUMER,
                attributes={"omniq.task.id": task.id},
                start_time=_ns(task.started_at) if task.started_at else now)
            span.end(end_time=now)

    @contextlib.contextmanager
    def executing(self, task: Task) -> Iterator[None]:
        if not self._recording() or self._dropped(task, self._parent(task)):
            if not task.trace_context:
                yield
                return
            token = self._context.attach(self._parent(task))  # passed through to the code
            try:
                yield
            finally:
                self._context.detach(token)
            return
        with self.tracer.start_as_current_span(
                "omniq.execute", context=self._parent(task), kind=self._kind.CONSUMER,
                attributes={"messaging.destination.name": task.queue_name,
                            "omniq.task.id": task.id, "omniq.task.function": task.func_name,
                            "omniq.task.attempt": task.attempts}):
            yield

    def finished(self, task: Task, handed_over: datetime | None) -> None:
        if not self._recording():
            return
        now = time.time_ns()
        parent = self._parent(task)
        self._parents.pop(task.id, None)
        if self._dropped(task, parent):
            return
        span = self.tracer.start_span(
            "omniq.complete", context=parent, start_time=_ns(handed_over) if handed_over
            else now, attributes={"omniq.task.id": task.id,
                                  "omniq.task.status": task.status.value})
        if task.status in (TaskStatus.FAILED, TaskStatus.RETRYING) and task.error is not None:
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR,
                                               f"{task.error.type}: {task.error.message}"))
        span.end(end_time=now)
