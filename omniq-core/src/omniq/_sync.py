"""Sync lives at the edges: one mechanism builds every sync class from its async class.

Every sync object runs its coroutines on one event loop thread per process, started on first
use through an anyio blocking portal (``anyio.from_thread.run`` alone only works from threads
anyio started, so it is not enough for a plain script). Keeping all of a sync object's work on
that one loop also keeps its connections on the loop that opened them. Exceptions cross
unchanged, with their tracebacks.

Each sync class also offers ``<name>_async`` coroutines that run the same call on the portal
loop and await it from the caller's loop, and supports ``async with``.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import inspect
import threading
from collections.abc import Callable, Coroutine
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

T = TypeVar("T")

_PORTAL_THREAD = "omniq-sync"
_portal_lock = threading.Lock()
_portal: BlockingPortal | None = None
_portal_cm: AbstractContextManager[BlockingPortal] | None = None
#: Class methods that build an instance: their sync version wraps the result.
CONSTRUCTORS = ("from_config", "from_dict", "from_config_dict", "from_config_file", "from_env",
                "from_backend", "from_url")


def portal() -> BlockingPortal:
    """The process's shared portal (an event loop in a daemon thread), started on first use."""
    global _portal, _portal_cm
    if _portal is None:
        with _portal_lock:
            if _portal is None:
                _portal_cm = start_blocking_portal(name=_PORTAL_THREAD)
                _portal = _portal_cm.__enter__()
                atexit.register(_stop_portal)
    return _portal


def _stop_portal() -> None:
    global _portal, _portal_cm
    with _portal_lock:
        if _portal_cm is not None:
            try:
                _portal_cm.__exit__(None, None, None)
            except Exception:  # interpreter is exiting; never mask the real exit
                pass
        _portal, _portal_cm = None, None


def run_sync(fn: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` on the portal loop and wait for it."""
    return portal().call(functools.partial(fn, *args, **kwargs))


async def run_on_portal(fn: Callable[..., Coroutine[Any, Any, T]], *args: Any,
                        **kwargs: Any) -> T:
    """Await ``fn`` on the portal loop from any other loop without blocking it."""
    p = portal()
    if threading.current_thread().name == _PORTAL_THREAD:  # already on the portal loop
        return await fn(*args, **kwargs)
    future = p.start_task_soon(functools.partial(fn, *args, **kwargs))
    return await asyncio.wrap_future(future)


def as_async(obj: Any) -> Any:
    """The async object behind a sync wrapper (or ``obj`` itself)."""
    return obj._async if isinstance(obj, SyncWrapper) else obj


class SyncWrapper:
    """Base of generated sync classes; holds the async object in ``_async``."""

    _async_class: type = object

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        object.__setattr__(self, "_async", self._async_class(*args, **kwargs))

    @classmethod
    def _wrap(cls, async_obj: Any) -> Any:
        wrapper = cls.__new__(cls)
        object.__setattr__(wrapper, "_async", async_obj)
        return wrapper

    def __getattr__(self, name: str) -> Any:
        # Components reached through a sync object are sync too: ``oq.task_queue.count_tasks()``.
        return _rewrap(getattr(object.__getattribute__(self, "_async"), name))

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._async, name, value)

    def __enter__(self) -> Any:
        run_sync(self._async.connect)
        return self

    def __exit__(self, *exc_info: object) -> None:
        run_sync(self._async.__aexit__, *exc_info)

    async def __aenter__(self) -> Any:
        await run_on_portal(self._async.connect)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await run_on_portal(self._async.__aexit__, *exc_info)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} wrapping {self._async!r}>"


def _sync_method(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def method(self: SyncWrapper, *args: Any, **kwargs: Any) -> Any:
        return _rewrap(run_sync(getattr(self._async, name), *args, **kwargs))

    return method


def _async_twin(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def method(self: SyncWrapper, *args: Any, **kwargs: Any) -> Any:
        return _rewrap(await run_on_portal(getattr(self._async, name), *args, **kwargs))

    method.__name__ = method.__qualname__ = f"{name}_async"
    return method


def _constructor(name: str) -> classmethod:  # type: ignore[type-arg]
    def build(cls: type[SyncWrapper], *args: Any, **kwargs: Any) -> Any:
        factory = getattr(cls._async_class, name)
        args = tuple(as_async(a) for a in args)
        kwargs = {k: as_async(v) for k, v in kwargs.items()}
        result = factory(*args, **kwargs)
        if inspect.isawaitable(result):
            result = run_sync(lambda: result)
        wrapper = _registry.get(type(result))
        return wrapper._wrap(result) if wrapper is not None else cls._wrap(result)

    build.__name__ = name
    build.__doc__ = f"Sync form of ``{name}``: builds the async object, returns its twin."
    return classmethod(build)


_registry: dict[type, type[SyncWrapper]] = {}


def _rewrap(value: Any) -> Any:
    wrapper = _registry.get(type(value))
    return wrapper._wrap(value) if wrapper is not None else value


def make_sync(async_cls: type, name: str, *, doc: str | None = None) -> type[Any]:
    """Build the sync twin of ``async_cls``: every public coroutine method becomes a blocking
    method of the same name and signature, with a ``<name>_async`` twin."""
    namespace: dict[str, Any] = {
        "_async_class": async_cls,
        "__doc__": doc or f"Blocking twin of :class:`{async_cls.__name__}`.\n\n"
        + (async_cls.__doc__ or ""),
        "__module__": async_cls.__module__,
    }
    for attr in dir(async_cls):
        if attr.startswith("_"):
            continue
        raw = inspect.getattr_static(async_cls, attr)
        if attr in CONSTRUCTORS and isinstance(raw, classmethod | staticmethod):
            namespace[attr] = _constructor(attr)
            continue
        fn = getattr(async_cls, attr)
        if inspect.iscoroutinefunction(fn) and not isinstance(raw, classmethod | staticmethod):
            namespace[attr] = _sync_method(attr, fn)
            if not attr.endswith("_async"):
                namespace.setdefault(f"{attr}_async", _async_twin(attr, fn))
    cls = type(name, (SyncWrapper,), namespace)
    _registry[async_cls] = cls
    return cls


def sync_class_of(async_cls: type) -> type[SyncWrapper] | None:
    return _registry.get(async_cls)
