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
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from .._time import utcnow
from ..models import Task, TaskStatus
from . import Observer, require


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1e9)


class TracingObserver(Observer):
    """Spans for enqueue, claim, execute and complete, joined by the task's trace context.

    Args:
        tracer_provider: Where spans go (default: the global one, set by the application).
    """

    def __init__(self, tracer_provider: Any = None) -> None:
        require("opentelemetry.trace", "opentelemetry-api", "tracing")
        from opentelemetry import context, propagate, trace

        from .. import __version__

        self._trace, self._propagate, self._empty = trace, propagate, context.Context
        self._kind = trace.SpanKind
        self.tracer = trace.get_tracer("omniq", __version__, tracer_provider=tracer_provider)

    def _parent(self, task: Task) -> Any:
        """The context the task carries, or an empty one (a root span, never the worker's)."""
        if task.trace_context:
            return self._propagate.extract(task.trace_context)
        return self._empty()

    @staticmethod
    def _attributes(task: Task) -> dict[str, Any]:
        return {"messaging.system": "omniq", "messaging.destination.name": task.queue_name,
                "omniq.task.id": task.id, "omniq.task.function": task.func_name,
                "omniq.task.attempt": task.attempts}

    @contextlib.contextmanager
    def enqueuing(self) -> Iterator[dict[str, str] | None]:
        with self.tracer.start_as_current_span("omniq.enqueue", kind=self._kind.PRODUCER):
            carrier: dict[str, str] = {}
            self._propagate.inject(carrier)
            yield carrier or None

    def enqueued(self, tasks: Sequence[Task], inserted: Sequence[bool]) -> None:
        span = self._trace.get_current_span()
        if span.is_recording() and tasks:
            span.set_attributes({"messaging.system": "omniq",
                                 "messaging.destination.name": tasks[0].queue_name,
                                 "messaging.batch.message_count": len(tasks),
                                 "omniq.task.id": tasks[0].id,
                                 "omniq.task.function": tasks[0].func_name})

    def claimed(self, tasks: Sequence[Task]) -> None:
        now = _ns(utcnow())
        for task in tasks:
            span = self.tracer.start_span(
                "omniq.claim", context=self._parent(task), kind=self._kind.CONSUMER,
                attributes=self._attributes(task),
                start_time=_ns(task.started_at) if task.started_at else now)
            span.end(end_time=now)

    @contextlib.contextmanager
    def executing(self, task: Task) -> Iterator[None]:
        with self.tracer.start_as_current_span("omniq.execute", context=self._parent(task),
                                               kind=self._kind.CONSUMER,
                                               attributes=self._attributes(task)):
            yield

    def finished(self, task: Task, handed_over: datetime | None) -> None:
        now = utcnow()
        span = self.tracer.start_span(
            "omniq.complete", context=self._parent(task), attributes={
                **self._attributes(task), "omniq.task.status": task.status.value},
            start_time=_ns(handed_over or now))
        if task.status in (TaskStatus.FAILED, TaskStatus.RETRYING) and task.error is not None:
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR,
                                               f"{task.error.type}: {task.error.message}"))
        span.end(end_time=_ns(now))
