"""The conformance kit: the contracts of DESIGN §4-5 as a pytest suite any backend runs.

A backend (ours or a third party's) is done when it passes all of it. The kit is a set of plain
test classes; a backend's test module subclasses them (the subclass names start with
``Test`` so pytest collects them; the kit's own names do not, so the base classes are never
collected on their own) and provides four async fixtures:

``task_queue``
    An :class:`~omniq.queue.AsyncTaskQueue` of the backend, connected, built without
    ``queues=`` (any queue name is accepted), fresh and isolated per test: a unique
    ``project_name`` is enough where stores are shared. Closed after the test.
``result_store``
    An :class:`~omniq.storage.AsyncResultStorage`, connected, fresh and isolated per test.
``event_store``
    An :class:`~omniq.storage.AsyncEventStorage`, connected, fresh and isolated per test.
``omniq``
    An :class:`~omniq.AsyncOmniQ` built on those three components, not started. The kit starts
    workers with ``await omniq.start_worker(...)`` and always stops them. Closed after the test.

The kit also defines ``anyio_backend`` (asyncio) in every class. Tests that use workers are
parametrized by the ``worker_type`` fixture (``async``, ``thread_pool``, ``process_pool``);
a plugin that adds a worker type overrides that fixture. Worker tasks are module-level
functions in :mod:`omniq.testing._tasks` (the process pool pickles them by reference), and the
whole kit runs in well under a minute on the memory backend.

Example (``tests/test_conformance_mybackend.py``)::

    import pytest
    from omniq import AsyncOmniQ
    from omniq.testing import ConformanceTests
    from omniq_mine import AsyncMyTaskQueue, AsyncMyResultStorage, AsyncMyEventStorage

    @pytest.fixture
    async def task_queue(project_name):
        async with AsyncMyTaskQueue(project_name=project_name, url=URL) as queue:
            yield queue

    @pytest.fixture
    async def result_store(project_name):
        async with AsyncMyResultStorage(project_name=project_name, url=URL) as store:
            yield store

    @pytest.fixture
    async def event_store(project_name):
        async with AsyncMyEventStorage(project_name=project_name, url=URL) as store:
            yield store

    @pytest.fixture
    async def omniq(project_name, task_queue, result_store, event_store):
        async with AsyncOmniQ(project_name=project_name, task_queue=task_queue,
                              result_store=result_store, event_store=event_store) as oq:
            yield oq

    class TestMine(ConformanceTests):
        pass

Or pick contracts one by one (``class TestMyQueue(TaskQueueTests): pass``): a result-store-only
plugin subclasses just :class:`ResultStoreTests`. The kit needs ``pytest``, ``anyio``'s pytest
plugin and ``hypothesis`` (the ``testing`` extra of this distribution).
"""

from __future__ import annotations

from ._events import EventStoreTests
from ._lifecycle import LifecycleTests
from ._model import QueueMachine, TaskQueueModelTests
from ._queue import TaskQueueTests
from ._results import ResultStoreTests
from ._scheduling import SchedulingTests
from ._support import FAST_WORKER, eventually, running_worker
from ._worker import WorkerTests


class ConformanceTests(
    TaskQueueTests,
    LifecycleTests,
    SchedulingTests,
    ResultStoreTests,
    EventStoreTests,
    WorkerTests,
    TaskQueueModelTests,
):
    """Every contract at once: what a full backend (queue, results, events) must pass."""


__all__ = [
    "FAST_WORKER",
    "ConformanceTests",
    "EventStoreTests",
    "LifecycleTests",
    "QueueMachine",
    "ResultStoreTests",
    "SchedulingTests",
    "TaskQueueModelTests",
    "TaskQueueTests",
    "WorkerTests",
    "eventually",
    "running_worker",
]
