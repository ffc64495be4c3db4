"""Sync lives at the edges: the machinery under every sync class (see ``omniq.sync``).

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
import contextlib
import functools
import inspect
import threading
from collections.abc import Callable, Coroutine
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from anyio.from_thread import BlockingPortal, start_blocking_portal

T = TypeVar("T")

_PORTAL_THREAD = "omniq-sync"
_portal_lock = threading.Lock()
_portal: BlockingPortal | None = None
_portal_cm: AbstractContextManager[BlockingPortal] | None = None


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
            # The interpreter is exiting; never mask the real exit.
            with contextlib.suppress(Exception):
                _portal_cm.__exit__(None, None, None)
        _portal, _portal_cm = None, None


def run_sync(fn: Callable[..., Coroutine[Any, Any, T]], /, *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` on the portal loop and wait for it."""
    return portal().call(functools.partial(fn, *args, **kwargs))


async def run_on_portal(fn: Callable[..., Coroutine[Any, Any, T]], /, *args: Any,
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
    """Base of every sync class; holds the async object in ``_async``.

    A subclass names the async class it wraps with ``twin_of=``; its methods are the forwarders
    written by ``tools/generate_sync_forwarders.py`` (inherited from the base of its kind), plus a
    forwarder made here for each public coroutine those do not cover (a plugin's own methods).
    """

    _async_class: type = object
    _async: Any

    def __init_subclass__(cls, *, twin_of: type | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if twin_of is None:
            return
        cls._async_class = twin_of
        _add_missing_forwarders(cls, twin_of)
        _registry[twin_of] = cls

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        object.__setattr__(self, "_async", self._async_class(*args, **kwargs))

    @classmethod
    def _wrap(cls, async_obj: Any) -> Self:
        wrapper = cls.__new__(cls)
        object.__setattr__(wrapper, "_async", async_obj)
        return wrapper

    @classmethod
    def _construct(cls, name: str, *args: Any, **kwargs: Any) -> Self:
        """Sync form of the class method ``name``: builds the async object, returns its twin."""
        factory = getattr(cls._async_class, name)
        args = tuple(as_async(a) for a in args)
        kwargs = {k: as_async(v) for k, v in kwargs.items()}
        result = factory(*args, **kwargs)
        if inspect.isawaitable(result):
            result = run_sync(lambda: result)
        # The twin of what ``cls``'s factory built is ``cls`` or a subclass of it.
        return cast(Self, _registry.get(type(result), cls)._wrap(result))

    if not TYPE_CHECKING:  # hidden from type checkers, so a misspelled name is an error
        def __getattr__(self, name: str) -> Any:
            # Attributes of the async object; components reached through a sync object are
            # sync too: ``oq.task_queue.count_tasks()``.
            return rewrap(getattr(object.__getattribute__(self, "_async"), name))

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._async, name, value)

    def __enter__(self) -> Self:
        run_sync(self._async.connect)
        return self

    def __exit__(self, *exc_info: object) -> None:
        run_sync(self._async.__aexit__, *exc_info)

    async def __aenter__(self) -> Self:
        await run_on_portal(self._async.connect)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await run_on_portal(self._async.__aexit__, *exc_info)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} wrapping {self._async!r}>"


def _add_missing_forwarders(sync_cls: type, async_cls: type) -> None:
    """Forwarders for the public coroutines of ``async_cls`` that ``sync_cls`` lacks or whose
    parameters differ from the inherited forwarder's (they work, but type checkers see only
    the generated ones; a plugin writes its own to type them)."""
    for name in dir(async_cls):
        raw = inspect.getattr_static(async_cls, name)
        if name.startswith("_") or isinstance(raw, classmethod | staticmethod) \
                or not inspect.iscoroutinefunction(raw):
            continue
        if name in vars(sync_cls):
            continue  # written by the plugin itself
        twin = getattr(sync_cls, name, None)
        if twin is None or _parameters(twin) != _parameters(raw):
            setattr(sync_cls, name, _sync_method(name, raw))
            if not name.endswith("_async") and not hasattr(async_cls, f"{name}_async"):
                setattr(sync_cls, f"{name}_async", _async_twin(name, raw))


def _parameters(fn: Callable[..., Any]) -> list[inspect.Parameter]:
    """Parameters after ``self`` (a mixin may annotate ``self``; callers never pass it)."""
    return list(inspect.signature(fn).parameters.values())[1:]


def _sync_method(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def method(self: SyncWrapper, *args: Any, **kwargs: Any) -> Any:
        return rewrap(run_sync(getattr(self._async, name), *args, **kwargs))

    return method


def _async_twin(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def method(self: SyncWrapper, *args: Any, **kwargs: Any) -> Any:
        return rewrap(await run_on_portal(getattr(self._async, name), *args, **kwargs))

    method.__name__ = method.__qualname__ = f"{name}_async"
    return method


_registry: dict[type, type[SyncWrapper]] = {}


def rewrap(value: T) -> T:
    """``value``, or its sync twin when it is an async object that has one.

    Typed as returning ``value``'s type: a forwarder declares its async method's result type,
    and a twin stands in for its async object.
    """
    wrapper = _registry.get(type(value))
    return cast(T, wrapper._wrap(value)) if wrapper is not None else value


def sync_class_of(async_cls: type) -> type[SyncWrapper] | None:
    return _registry.get(async_cls)
