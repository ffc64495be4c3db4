"""Observers: the hook that metrics and traces hang on (see docs/user_guide/architecture.qmd).

A task queue holds at most one observer (``queue.observer``, None by default). The client calls
it when it enqueues, the worker when it claims, executes and finishes a task; every call site
first checks that one is installed, so with none nothing is called and nothing is slowed.
:func:`observe` installs one (several are combined); :mod:`omniq.observe.metrics` and
:mod:`omniq.observe.tracing` are the two OmniQ ships, switched on by ``metrics=True`` /
``tracing=True`` on :class:`~omniq.AsyncOmniQ` or the ``OMNIQ_METRICS`` / ``OMNIQ_TRACING``
settings.

Observers run on the event loop of the client or worker: they must not block, and an
exception they raise is a bug in the observer (it propagates).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from ..config import get_setting
from ..exceptions import ConfigError
from ..models import Task

__all__ = ["Observer", "Observers", "enable", "installed", "observe", "observers_from_settings"]


class Observer:
    """Sees each step of a task's life; every method does nothing unless overridden."""

    def enqueuing(self) -> AbstractContextManager[dict[str, str] | None]:
        """Runs around building and storing a batch of tasks; yields the trace context the
        tasks carry to their execution (signed with them), or None."""
        return contextlib.nullcontext()

    def enqueued(self, tasks: Sequence[Task], inserted: Sequence[bool]) -> None:
        """Tasks were stored (``inserted[i]`` False: the id existed, nothing was written)."""

    def claimed(self, tasks: Sequence[Task]) -> None:
        """A worker claimed ``tasks`` (each with ``started_at``, the claim's time)."""

    def executing(self, task: Task) -> AbstractContextManager[None]:
        """Runs around the task's code, in the context the code runs in."""
        return contextlib.nullcontext()

    def finished(self, task: Task, handed_over: datetime | None) -> None:
        """An attempt's outcome was written: ``task.status`` says which (``completed``,
        ``retrying``, ``failed``: dead-lettered, ``cancelled``). ``handed_over``: when the
        worker handed the outcome to its writer (None for a poison pill found by maintenance).
        """


class Observers(Observer):
    """Several observers, called in order."""

    def __init__(self, observers: Sequence[Observer]) -> None:
        self.observers = list(observers)

    @contextlib.contextmanager
    def enqueuing(self) -> Iterator[dict[str, str] | None]:
        with contextlib.ExitStack() as stack:
            carried = [stack.enter_context(o.enqueuing()) for o in self.observers]
            yield next((c for c in carried if c), None)

    def enqueued(self, tasks: Sequence[Task], inserted: Sequence[bool]) -> None:
        for o in self.observers:
            o.enqueued(tasks, inserted)

    def claimed(self, tasks: Sequence[Task]) -> None:
        for o in self.observers:
            o.claimed(tasks)

    @contextlib.contextmanager
    def executing(self, task: Task) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for o in self.observers:
                stack.enter_context(o.executing(task))
            yield

    def finished(self, task: Task, handed_over: datetime | None) -> None:
        for o in self.observers:
            o.finished(task, handed_over)


def installed(queue: Any) -> list[Observer]:
    """The observers installed on ``queue``."""
    current: Observer | None = queue.observer
    if isinstance(current, Observers):
        return list(current.observers)
    return [current] if current is not None else []


def observe(queue: Any, observer: Observer) -> Observer:
    """Install ``observer`` on ``queue`` (a task queue, or its blocking twin) beside any
    already there; installing the same kind twice keeps the first. Returns the one in use."""
    present = installed(queue)
    for o in present:
        if type(o) is type(observer):
            return o
    queue.observer = observer if not present else Observers([*present, observer])
    return observer


def enable(queue: Any, *, metrics: bool = False, tracing: bool = False) -> None:
    """Switch on OmniQ's Prometheus metrics and/or OpenTelemetry traces for ``queue``."""
    if metrics:
        from .metrics import PrometheusObserver

        observe(queue, PrometheusObserver.shared())
    if tracing:
        from .tracing import TracingObserver

        observe(queue, TracingObserver())


def observers_from_settings(queue: Any) -> None:
    """What ``OMNIQ_METRICS``, ``OMNIQ_METRICS_PORT`` and ``OMNIQ_TRACING`` ask for."""
    metrics = bool(get_setting("METRICS") or get_setting("METRICS_PORT") is not None)
    tracing = bool(get_setting("TRACING"))
    if metrics or tracing:
        enable(queue, metrics=metrics, tracing=tracing)


def require(module: str, distribution: str, feature: str) -> Any:
    """Import an optional dependency, or say which distribution installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"{feature} need the {distribution} package, which is not installed",
                          field=feature, value=True,
                          hint=f"install it (pip install {distribution}) or turn "
                               f"{feature} off") from None
