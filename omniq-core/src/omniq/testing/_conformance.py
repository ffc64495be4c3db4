"""The whole kit: ``ConformanceTests``, every contract of a full backend in one class, and
every public name of :mod:`omniq.testing`, which imports this module on first use."""

from __future__ import annotations

# Besides what ConformanceTests is made of, the kit's other public names, which omniq.testing
# takes from here (listed in its __all__).
from ._atomicity import ClaimAtomicityTests, QueueFactory  # noqa: F401
from ._events import EventStoreTests
from ._fixtures import KIT_SECRET, STORE_SCOPES  # noqa: F401
from ._inspection import InspectionTests
from ._lifecycle import LifecycleTests
from ._model import QueueMachine, TaskQueueModelTests  # noqa: F401
from ._packaging import PackagingTests
from ._queue import TaskQueueTests
from ._registry import WorkerRegistryTests
from ._results import ResultStoreTests
from ._scheduling import SchedulingTests
from ._support import FAST_WORKER, eventually, running_worker  # noqa: F401
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

