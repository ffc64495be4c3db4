"""The fixtures of the kit: those it brings, and those a plugin must provide.

They are methods of every kit class, so a plugin overrides one by defining a fixture of the same
name in its subclass (a fixture of that name in the test module or a ``conftest.py`` would be
shadowed by the class's own). A plugin must provide two, ``backend_type`` and
``backend_options``; each fails, until overridden, with a message that says what to return. The
components are built from them through the plugin registry, as users build them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

#: The signing secret of every kit test, also seen by the worker processes the kit starts (they
#: inherit the environment), so they verify what the test signed without a key file.
KIT_SECRET = "omniq-conformance-kit-secret"
#: What ``store_scope`` may return.
STORE_SCOPES = ("shared", "process", "instance")


def _built(kind: str, backend_type: str, project_name: str,
           options: dict[str, Any]) -> Any:
    """A component of ``kind`` of the installed plugin type ``backend_type``."""
    from ..plugins import resolve

    return resolve(kind, backend_type)(project_name=project_name, **options)


def _missing(name: str, what: str) -> NotImplementedError:
    return NotImplementedError(
        f"provide a fixture {name!r} that {what}: define it as a method of your subclass of the "
        "kit's test class (see the omniq.testing docstring)"
    )


class KitFixtures:
    """Fixture declarations shared by every kit class."""

    # -- brought by the kit --------------------------------------------------------------------
    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"

    @pytest.fixture(autouse=True)
    def _kit_keys(self, tmp_path_factory: pytest.TempPathFactory,
                  monkeypatch: pytest.MonkeyPatch) -> None:
        """Keys never land in the user's home: a fixed secret (which worker subprocesses
        inherit) and, should anything still look for a key file, a temporary config dir."""
        config = Path(tmp_path_factory.getbasetemp()) / "omniq-kit-config"
        monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
        monkeypatch.setenv("OMNIQ_SECRET_KEY", KIT_SECRET)

    @pytest.fixture
    def worker_settings(self) -> dict[str, Any]:
        """Options of the workers the kit starts, over :data:`FAST_WORKER` (a 1 s lease,
        50 ms polls). A store whose lease renewal can take a good part of a second (an
        emulator on a loaded machine) returns a longer ``lease``, so heartbeats keep up; the
        tests that need a short lease take a fraction of this one."""
        return {}

    @pytest.fixture(autouse=True)
    def _kit_worker_settings(self, worker_settings: dict[str, Any],
                             monkeypatch: pytest.MonkeyPatch) -> None:
        from . import _support

        monkeypatch.setattr(_support, "FAST_WORKER", {**_support.FAST_WORKER,
                                                      **worker_settings})

    @pytest.fixture
    def project_name(self) -> str:
        """A project name no other test uses, so stores shared across tests stay isolated."""
        return f"kit{uuid.uuid4().hex[:12]}"

    @pytest.fixture
    async def omniq(self, project_name: str, task_queue: Any, result_store: Any,
                    event_store: Any) -> AsyncIterator[Any]:
        """An ``AsyncOmniQ`` on the plugin's three components, not started."""
        from .._core import AsyncOmniQ

        async with AsyncOmniQ(project_name=project_name, task_queue=task_queue,
                              result_store=result_store, event_store=event_store) as oq:
            yield oq

    @pytest.fixture
    def task_queue_factory(self, backend_type: str, project_name: str,
                           backend_options: dict[str, Any]) -> Any:
        """Builds new, independent task queues on this test's store (see :class:`QueueFactory`)."""
        from ._atomicity import QueueFactory

        return QueueFactory(backend_type, project_name, dict(backend_options))

    @pytest.fixture
    def store_scope(self) -> str:
        """Who shares a store: ``"shared"`` (every instance built with the same settings, in
        any process: a server or a file), ``"process"`` (instances in one process only) or
        ``"instance"`` (each instance keeps its own data, like the core's ``memory``)."""
        return "shared"

    @pytest.fixture
    async def task_queue(self, backend_type: str, project_name: str,
                         backend_options: dict[str, Any]) -> AsyncIterator[Any]:
        """The plugin's task queue registered as ``backend_type``, built with
        ``backend_options`` (without ``queues=``), connected, closed afterwards. Override it
        to build yours another way."""
        async with _built("task_queue", backend_type, project_name, backend_options) as queue:
            yield queue

    @pytest.fixture
    async def result_store(self, backend_type: str, project_name: str,
                           backend_options: dict[str, Any]) -> AsyncIterator[Any]:
        """The plugin's result store, built as :meth:`task_queue` is."""
        async with _built("result_store", backend_type, project_name, backend_options) as store:
            yield store

    @pytest.fixture
    async def event_store(self, backend_type: str, project_name: str,
                          backend_options: dict[str, Any]) -> AsyncIterator[Any]:
        """The plugin's event store, built as :meth:`task_queue` is."""
        async with _built("event_store", backend_type, project_name, backend_options) as store:
            yield store

    # -- provided by the plugin ----------------------------------------------------------------
    @pytest.fixture
    def backend_type(self) -> str:
        raise _missing("backend_type", "returns the type name your plugin registers through "
                       "its entry point in the group 'omniq', e.g. 'sqlite'")

    @pytest.fixture
    def backend_options(self) -> dict[str, Any]:
        raise _missing("backend_options", "returns a dict of picklable settings that each of "
                       "your component classes and your backend class accept besides "
                       "project_name, pointing at this test's store, e.g. {'url': URL} "
                       "({} when there are none)")
