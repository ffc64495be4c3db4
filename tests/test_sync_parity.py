"""Every async public method has a sync twin with the same parameters."""

from __future__ import annotations

import inspect

import omniq
import pytest
from omniq import plugins
from omniq._sync import SyncWrapper, sync_class_of


def _sync_classes() -> list[type]:
    found = [omniq.OmniQ, omniq.TaskQueue, omniq.ResultStore, omniq.EventStore]
    for t in plugins.available():
        cls = plugins.resolve(t.kind, t.name)
        twin = sync_class_of(cls)
        if twin is not None:
            found.append(twin)
    return found


def _caller_view(fn: object) -> inspect.Signature:
    """The signature without ``self`` (a mixin may annotate it; callers never pass it)."""
    sig = inspect.signature(fn)  # type: ignore[arg-type]
    return sig.replace(parameters=list(sig.parameters.values())[1:])


@pytest.mark.parametrize("sync_cls", _sync_classes(), ids=lambda c: c.__name__)
def test_every_coroutine_has_a_blocking_twin_with_the_same_signature(sync_cls: type) -> None:
    assert issubclass(sync_cls, SyncWrapper)
    async_cls = sync_cls._async_class
    for name, member in inspect.getmembers(async_cls):
        if name.startswith("_") or not inspect.iscoroutinefunction(member):
            continue
        twin = getattr(sync_cls, name)
        assert not inspect.iscoroutinefunction(twin), name
        assert _caller_view(twin) == _caller_view(member), name
        if not name.endswith("_async"):
            assert inspect.iscoroutinefunction(getattr(sync_cls, f"{name}_async")), name


def test_exceptions_cross_the_sync_boundary_unchanged() -> None:
    with omniq.OmniQ(project_name="p", backend_type="memory") as oq:
        with pytest.raises(omniq.TaskNotFoundError) as info:
            oq.get_result("missing", timeout=0.1)
        frames = [f.name for f in __import__("traceback").extract_tb(info.value.__traceback__)]
        assert "wait_for_value" in frames  # the async frames are kept
