"""The conformance kit: the contracts a backend plugin must meet, as a pytest suite.

A backend (ours or a third party's) is done when it passes all of it. The kit is a set of plain
test classes; a plugin's test module subclasses them (the subclass names start with ``Test`` so
pytest collects them; the kit's own names do not, so the base classes are never collected on
their own) and overrides the fixtures below **as methods of that subclass** (a module-level or
``conftest.py`` fixture of the same name is shadowed by the kit's). The two fixtures a plugin
must provide fail, until overridden, with a message that says what to return.

Fixtures the plugin provides:

``backend_type``
    Returns the type name the plugin registers through its entry point in the group ``omniq``
    (``"sqlite"``) for its task queue, result store, event store and backend bundle.
``backend_options``
    Returns a dict of picklable settings, besides ``project_name``, that each of those four
    classes accepts, naming this test's store: ``{"url": URL}``, ``{"database_path": path}``,
    or ``{}``. Clean the store up after the test here if it outlives the test.

Fixtures the kit brings (override them only to change them):

``task_queue``, ``result_store``, ``event_store``
    The plugin's components, found through the plugin registry by ``backend_type`` (as
    ``OmniQ(backend_type=...)`` finds them) and built with ``project_name`` and
    ``backend_options``; connected, fresh per test, closed afterwards. A plugin whose
    components need more than that overrides them.
``project_name``
    A name no other test uses (``kit`` and 12 hex digits).
``omniq``
    An :class:`~omniq.AsyncOmniQ` on ``task_queue``, ``result_store`` and ``event_store``, not
    started; the kit starts workers with ``await omniq.start_worker(...)`` and stops them.
``task_queue_factory``
    A picklable zero-argument callable that builds a new, unconnected, independent task queue
    on this test's store; by default the class registered for ``backend_type`` called with
    ``project_name`` and ``backend_options``. The claim-atomicity tests call it in this process
    and in spawned ones.
``store_scope``
    Who shares a store: ``"shared"`` (the default: every instance built with the same settings,
    in any process, as with a server or a file), ``"process"`` (instances in one process only,
    like SQLite's ``:memory:``) or ``"instance"`` (each instance keeps its own data, like the
    core's ``memory``). The claim-atomicity tests that need sharing skip, saying why, otherwise.
``worker_settings``
    Options of the workers the kit starts, over ``FAST_WORKER`` (``{}`` by default: a 1 s
    lease, 50 ms polls). A store whose lease renewal can take a good part of a second (an
    emulator on a loaded machine) returns ``{"lease": 3.0}`` or so, so heartbeats keep up.
``worker_type``
    Parametrizes the worker tests: ``async``, ``thread_pool``, ``process_pool``.
``anyio_backend``
    ``"asyncio"``.

And one the plugin never sees: an autouse fixture that sets ``OMNIQ_SECRET_KEY`` to a fixed
secret (worker subprocesses inherit it) and ``XDG_CONFIG_HOME`` to a temporary directory, so a
kit run writes no signing key into the user's home.

Worker tasks are module-level functions in :mod:`omniq.testing._tasks` (the process pool
pickles them by reference), and the whole kit runs in about a minute on the memory backend.

Example (``tests/test_conformance_acme.py`` of a plugin ``omniq-acme`` whose engine keeps a
project's data in the memory of the process, shared by the instances there; the plugin is built
step by step in ``docs/user_guide/writing_a_plugin.qmd``)::

    import pytest
    from omniq.testing import ConformanceTests


    class TestAcmeConformance(ConformanceTests):
        @pytest.fixture
        def backend_type(self):
            return "acme"

        @pytest.fixture
        def backend_options(self):
            return {}  # a server's engine: {"url": ...}; a file's: {"database_path": ...}

        @pytest.fixture
        def store_scope(self):
            return "process"  # instances in one process share a project's data; leave it out
                              # when every process does (a server, a file)

Or pick contracts one by one (``class TestAcmeQueue(TaskQueueTests)``): a result-store-only
plugin subclasses just :class:`ResultStoreTests`.
:class:`ConformanceTests` is every contract of a full backend, including
:class:`ClaimAtomicityTests`, :class:`PackagingTests` (entry point, backend bundle, sync
twins), :class:`WorkerRegistryTests` (the records workers keep of themselves) and
:class:`InspectionTests` (the reads of ``omniq status`` and ``omniq tasks``). The kit needs
``pytest``, ``anyio`` (its pytest plugin runs the async tests) and ``hypothesis``;
``pytest-timeout`` is recommended.
"""

from __future__ import annotations

import pkgutil
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._conformance import (
        FAST_WORKER,
        KIT_SECRET,
        STORE_SCOPES,
        ClaimAtomicityTests,
        ConformanceTests,
        EventStoreTests,
        InspectionTests,
        LifecycleTests,
        PackagingTests,
        QueueFactory,
        QueueMachine,
        ResultStoreTests,
        SchedulingTests,
        TaskQueueModelTests,
        TaskQueueTests,
        WorkerRegistryTests,
        WorkerTests,
        eventually,
        running_worker,
    )

#: What the kit imports beyond the core.
_NEEDS = ("pytest", "anyio", "hypothesis")

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


def __getattr__(name: str) -> Any:
    """The kit is imported on first use of one of its names: its worker tasks live in this
    package (``omniq.testing._tasks``), and a process-pool child that imports them should not
    pay for pytest and hypothesis (about a second of CPU per child)."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        import pytest

        # A failed check shows its values (``assert 3 == 7``), as in the plugin's own tests,
        # not a bare AssertionError: pytest rewrites only the test modules it collects.
        pytest.register_assert_rewrite(*(
            f"{__name__}.{module.name}" for module in pkgutil.iter_modules(__path__)
            if f"{__name__}.{module.name}" not in sys.modules))
        from . import _conformance
    except ModuleNotFoundError as exc:
        if exc.name not in _NEEDS:
            raise
        raise ModuleNotFoundError(
            f"omniq.testing needs {exc.name}, which is not installed: the kit runs under "
            f"{', '.join(_NEEDS)}; install them: pip install {' '.join(_NEEDS)}",
            name=exc.name) from exc
    return getattr(_conformance, name)
