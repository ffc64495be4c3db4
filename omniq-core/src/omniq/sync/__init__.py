"""The blocking API: ``OmniQ`` and the sync base class of each component kind.

Every sync class wraps its async twin and runs each call on one shared event loop, in the
calling thread when it can (see ``omniq._sync``); it has no logic of its own. Its methods take
the async methods' parameters and return their values, so type checkers know them; each also
has an ``<name>_async`` coroutine, and ``with`` and ``async with`` open and close the async
object.

A plugin declares the sync twin of each of its async classes in one line, naming the async
class with ``twin_of=``::

    from omniq.sync import TaskQueue

    class AcmeTaskQueue(TaskQueue, twin_of=AsyncAcmeTaskQueue):
        \"\"\"Blocking twin of :class:`AsyncAcmeTaskQueue`.\"\"\"

Components handed out by a sync object are sync too (``oq.task_queue`` is a ``TaskQueue``).
``as_async(obj)`` is the async object behind a sync one; ``run_sync(fn, *args, **kwargs)`` runs
a coroutine function on the shared loop and waits for it (for a plugin's own typed forwarder).
The forwarders are generated: ``python -m omniq.sync._generate`` after changing a public method
of ``AsyncOmniQ`` or of an async component base.
"""

from __future__ import annotations

from typing import Any

from .._core import AsyncOmniQ
from .._sync import SyncWrapper, as_async, run_sync
from ..backend import AsyncBackend
from ..events import EventLogger
from ..queue import AsyncTaskQueue
from ..serialization import Serializer
from ..storage import AsyncEventStore, AsyncResultStore
from ..workers import AsyncWorkerBase
from ._forwarders import (
    BackendMethods,
    EventStoreMethods,
    OmniQMethods,
    ResultStoreMethods,
    TaskQueueMethods,
    WorkerMethods,
)

#: The common base of every sync class.
SyncTwin = SyncWrapper


class _Component:
    """Attributes every sync component reads from its async object."""

    project_name: str
    serializer: Serializer


class TaskQueue(_Component, TaskQueueMethods, twin_of=AsyncTaskQueue):
    """Blocking twin of :class:`~omniq.queue.AsyncTaskQueue`; base of every sync task queue."""

    queues: list[str]
    declared_queues: list[str]
    event_logger: EventLogger | None


class ResultStore(_Component, ResultStoreMethods, twin_of=AsyncResultStore):
    """Blocking twin of :class:`~omniq.storage.AsyncResultStore`; base of every sync result
    store."""


class EventStore(_Component, EventStoreMethods, twin_of=AsyncEventStore):
    """Blocking twin of :class:`~omniq.storage.AsyncEventStore`; base of every sync event
    store."""


class Backend(_Component, BackendMethods, twin_of=AsyncBackend):
    """Blocking twin of :class:`~omniq.backend.AsyncBackend`; base of every sync backend."""


class Worker(_Component, WorkerMethods, twin_of=AsyncWorkerBase):
    """Blocking twin of :class:`~omniq.workers.AsyncWorkerBase`; base of every sync worker."""

    task_queue: TaskQueue
    result_store: ResultStore | None
    event_store: EventStore | None


class OmniQ(OmniQMethods, twin_of=AsyncOmniQ):
    """Blocking twin of :class:`~omniq.AsyncOmniQ` (same constructor and methods)."""

    project_name: str
    worker_type: str | None
    worker_config: dict[str, Any]
    backend: Backend | None
    task_queue: TaskQueue
    result_store: ResultStore
    event_store: EventStore | None
    events: EventLogger


OmniQ.__doc__ = f"{OmniQ.__doc__}\n\n{AsyncOmniQ.__doc__}"

__all__ = [
    "Backend",
    "EventStore",
    "OmniQ",
    "ResultStore",
    "SyncTwin",
    "TaskQueue",
    "Worker",
    "as_async",
    "run_sync",
]
