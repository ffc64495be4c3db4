"""``PackagingTests``: the plugin is found the way users find it, and every class it ships works.

The type name (fixture ``backend_type``) must be registered through an entry point in the group
``omniq`` for the task queue, result store, event store and backend bundle; the bundle must build
the three components on the store ``backend_options`` names; the sync twin of each class
(``AsyncAcmeTaskQueue`` -> ``AcmeTaskQueue``, found by that public name) must work through the
blocking API; and a client on the components must work again in a new event loop after the one
it connected in ended.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import re
from typing import Any

import anyio
import pytest

from ..exceptions import PluginNotFoundError
from ..models import EventType, TaskStatus
from . import _support, _tasks
from ._events import event
from ._results import result
from ._support import WAIT, KitBase, moment

KINDS = ("task_queue", "result_store", "event_store", "backend")


def _distribution_key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def registered_class(kind: str, backend_type: str) -> type:
    """The class the registry resolves for ``backend_type``; fails the test if there is none."""
    from .. import plugins

    hook = "omniq_register_" + ("backends" if kind == "backend" else f"{kind}s")
    try:
        return plugins.resolve(kind, backend_type)
    except PluginNotFoundError as exc:
        pytest.fail(f"{kind.replace('_', ' ')} type {backend_type!r} is not available: {exc}; "
                    f"register it in the hook {hook} of the module your entry point (group "
                    "'omniq') names, and install the distribution")


def sync_twin(kind: str, backend_type: str) -> Any:
    """The public sync twin of the registered class: its name without the ``Async`` prefix."""
    from .. import plugins

    cls = registered_class(kind, backend_type)
    name = cls.__name__.removeprefix("Async")
    if name == cls.__name__:
        pytest.fail(f"{cls.__module__}.{cls.__name__} should be named Async{cls.__name__}: a "
                    "sync twin is found by the async class's name without 'Async'")
    try:
        return plugins.find_export(name)
    except PluginNotFoundError as exc:
        pytest.fail(f"no sync twin {name!r} of {cls.__name__} ({exc}): define it in "
                    f"{cls.__module__} and list it in exports= of the {backend_type!r} "
                    f"{kind.replace('_', ' ')} registration")


class PackagingTests(KitBase):
    """Registration, backend bundle and sync twins of a full backend (fixtures:
    ``backend_type``, ``backend_options``, ``task_queue``, ``result_store``, ``event_store``,
    ``store_scope``)."""

    @pytest.mark.anyio
    async def test_type_is_registered_through_an_entry_point(self, backend_type: str) -> None:
        from .. import plugins

        with_entry_points = {_distribution_key(ep.dist.name)
                             for ep in importlib.metadata.entry_points(group="omniq")
                             if ep.dist is not None}
        for kind in KINDS:
            registered_class(kind, backend_type)
            registration = plugins.lookup(kind, backend_type)
            assert _distribution_key(registration.distribution) in with_entry_points, (
                f"{kind.replace('_', ' ')} type {backend_type!r} was registered by "
                f"{registration.distribution!r}, which declares no entry point in the group "
                "'omniq': add one to its pyproject ([project.entry-points.omniq])"
            )

    @pytest.mark.anyio
    async def test_fixtures_are_the_registered_classes(
            self, backend_type: str, task_queue: Any, result_store: Any,
            event_store: Any) -> None:
        from ..backend import AsyncBackend

        for kind, component in (("task_queue", task_queue), ("result_store", result_store),
                                ("event_store", event_store)):
            cls = registered_class(kind, backend_type)
            assert isinstance(component, cls), (
                f"the {kind} fixture is a {type(component).__name__}, but the type "
                f"{backend_type!r} resolves to {cls.__name__}: register the class you test"
            )
        assert issubclass(registered_class("backend", backend_type), AsyncBackend)

    @pytest.mark.anyio
    async def test_backend_bundle_builds_its_three_components(
            self, backend_type: str, backend_options: dict[str, Any], project_name: str,
            store_scope: str, task_queue: Any) -> None:
        backend_class = registered_class("backend", backend_type)
        backend = backend_class(project_name=project_name, **backend_options)
        for kind in KINDS[:3]:
            component = getattr(backend, f"create_{kind}")()
            assert isinstance(component, registered_class(kind, backend_type)), (
                f"{backend_class.__name__}.create_{kind}() built a {type(component).__name__}"
            )
        async with backend.create_task_queue() as queue, \
                backend.create_result_store() as results, \
                backend.create_event_store() as events:
            task_id = await queue.enqueue(_tasks.add, 1, 2)
            task = await queue.get_task(task_id)
            assert task is not None and task.status == TaskStatus.PENDING
            stored = result(3)
            await results.set(stored)
            got = await results.get(stored.task_id)
            assert got is not None and got.result == 3
            logged = event(EventType.ENQUEUED, moment(), task_id=task_id, queue_name="default")
            await events.append([logged])
            assert [e.id for e in await events.query(task_id=task_id)] == [logged.id]
        if store_scope != "instance":
            assert await task_queue.get_task(task_id) is not None, (
                "a task enqueued through the backend bundle is missing from the task_queue "
                "fixture's store: backend_options must name the store the fixtures use"
            )

    @pytest.mark.anyio
    async def test_sync_twins_work_through_the_blocking_api(
            self, backend_type: str, backend_options: dict[str, Any], project_name: str) -> None:
        # In a thread, as in a plain script: blocking calls must not run on an event loop.
        settings = {"project_name": project_name, **backend_options}
        await anyio.to_thread.run_sync(_use_sync_twins, backend_type, settings)

    @pytest.mark.anyio
    async def test_a_client_works_again_after_the_event_loop_it_connected_in_ended(
            self, backend_type: str, backend_options: dict[str, Any], project_name: str) -> None:
        # Connections opened in an ended loop cannot be used from another: the components
        # must open new ones, and nothing they keep may stay bound to the old loop.
        settings = {"project_name": project_name, **backend_options}
        await anyio.to_thread.run_sync(_use_across_event_loops, backend_type, settings)


def _use_across_event_loops(backend_type: str, settings: dict[str, Any]) -> None:
    """Use one ``AsyncOmniQ`` in several ``asyncio.run`` calls in turn, leaving a worker
    running when the second ends and closing it in a loop of its own, as a script or a test
    framework with a loop per test does."""
    from .. import AsyncOmniQ
    from ._fixtures import _built

    parts = {kind: _built(kind, backend_type, settings["project_name"],
                          {k: v for k, v in settings.items() if k != "project_name"})
             for kind in ("task_queue", "result_store", "event_store")}
    oq = AsyncOmniQ(project_name=settings["project_name"], **parts)
    first = asyncio.run(oq.enqueue(_tasks.add, 2, 3))

    async def run_first() -> Any:
        await oq.start_worker("async", **_support.FAST_WORKER)  # not stopped: it ends with the loop
        return await oq.get_result(first, timeout=WAIT)

    assert asyncio.run(run_first()) == 5, "the second event loop did not run the task"

    async def run_second() -> None:
        try:
            second = await oq.enqueue(_tasks.add, 4, 5)
            await oq.start_worker("async", **_support.FAST_WORKER)
            assert await oq.get_result(second, timeout=WAIT) == 9
            recorded = {e.type for e in await oq.get_events(first)}
            assert EventType.ENQUEUED in recorded, recorded  # logged in the first loop
        finally:
            await oq.close()

    asyncio.run(run_second())
    # Closed in a loop of its own after the one it used ended, as a module-level client is at
    # shutdown or a test framework's fixture at teardown: nothing is left to close through
    # the ended loop, and close() must not fail on it.
    asyncio.run(oq.enqueue(_tasks.add, 1, 1))
    asyncio.run(oq.close())


def _use_sync_twins(backend_type: str, settings: dict[str, Any]) -> None:
    """Enqueue and read a task, set and get a result, log and query an event, through the sync
    twin of each class, and run a task round trip through the sync backend bundle."""
    from .. import OmniQ

    with sync_twin("task_queue", backend_type)(**settings) as queue:
        task_id = queue.enqueue(_tasks.add, 1, 2)
        task = queue.get_task(task_id)
        assert task is not None and task.id == task_id and task.status == TaskStatus.PENDING
    with sync_twin("result_store", backend_type)(**settings) as results:
        stored = result({"sum": 3})
        results.set(stored)
        got = results.get(stored.task_id)
        assert got is not None and got.result == {"sum": 3}
    with sync_twin("event_store", backend_type)(**settings) as events:
        logged = event(EventType.ENQUEUED, moment(), task_id=task_id, queue_name="default")
        events.append([logged])
        assert [e.id for e in events.query(task_id=task_id)] == [logged.id]
    with sync_twin("backend", backend_type)(**settings) as backend, \
            OmniQ.from_backend(backend, result_store_backend=backend,
                               event_store_backend=backend) as oq:
        task_id = oq.enqueue(_tasks.add, 2, 2)
        task = oq.get_task(task_id)
        assert task is not None and task.id == task_id
