"""The whole kit: ``ConformanceTests``, every contract of a full backend in one class, and
every public name of :mod:`omniq.testing`, which imports this module on first use."""

from __future__ import annotations

from ._atomicity import ClaimAtomicityTests, QueueFactory
from ._events import EventStoreTests
from ._fixtures import KIT_SECRET, STORE_SCOPES
from ._inspection import InspectionTests
from ._lifecycle import LifecycleTests
from ._model import QueueMachine, TaskQueueModelTests
from ._packaging import PackagingTests
from ._queue import TaskQueueTests
from ._registry import WorkerRegistryTests
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
    ClaimAtomicityTests,
    PackagingTests,
    WorkerRegistryTests,
    InspectionTests,
):
    """Every contract at once: what a full backend (queue, results, events) must pass."""


__all__ = [
    "FAST_WORKER",
    "KIT_SECRET",
    "STORE_SCOPES",
    "ClaimAtomicityTests",
    "ConformanceTests",
    "EventStoreTests",
    "InspectionTests",
    "LifecycleTests",
    "PackagingTests",
    "QueueFactory",
    "QueueMachine",
    "ResultStoreTests",
    "SchedulingTests",
    "TaskQueueModelTests",
    "TaskQueueTests",
    "WorkerRegistryTests",
    "WorkerTests",
    "eventually",
    "running_worker",
]
