"""Sync lives at the edges: the machinery under every sync class (see ``omniq.sync``).

Every sync object of a process runs its coroutines on one event loop, so its connections stay
on the loop that opened them. That loop has no thread of its own: a blocking call runs it in
the calling thread whenever nobody else is running it, so a call such as ``enqueue`` costs no
hop to another thread (two context switches, more than all of our own Python per enqueue).
While another thread runs the loop, a call hands its coroutine over and sleeps on a lock of
its own until its result is in, or until the loop is handed to it. A background thread runs
the loop whenever no caller does and work is left on it (an in-process worker, the event
writer, a subscription), so such work never waits for the next call. See
``docs/user_guide/architecture.qmd``, "The blocking API". Exceptions cross unchanged, with their
tracebacks.

Each sync class also offers ``<name>_async`` coroutines that run the same call on that loop
and await it from the caller's loop, and supports ``async with``.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

T = TypeVar("T")

#: ``Runner._owner`` while the background thread runs the loop.
_BACKGROUND = -1

#: Seconds between two turns the background thread gives pausable tasks while no call runs
#: the loop: they answer a server's pings and drain their sockets, so a client left idle for
#: minutes is not dropped as stale or as a slow consumer.
PULSE = 1.0


class _Call:
    """One coroutine run for a caller: its outcome, and how the caller learns of it."""

    __slots__ = ("coro", "done", "exc", "notify", "runs_loop", "started", "stop_early", "task",
                 "thread", "value", "woken")

    def __init__(self, coro: Coroutine[Any, Any, Any],
                 notify: Callable[[_Call], None] | None = None) -> None:
        self.coro = coro
        self.done = False
        self.value: Any = None
        self.exc: BaseException | None = None
        self.task: asyncio.Task[None] | None = None
        self.started = False
        #: Cancelled before it started: it never runs.
        self.stop_early = False
        #: The blocked caller's thread (None for a caller awaiting from another loop).
        self.thread = None if notify is not None else threading.get_ident()
        #: True while the caller's thread runs the loop for it (it stops the loop when done).
        self.runs_loop = False
        #: Released to wake a blocked caller: its result is in, or the loop is its to run.
        self.woken = threading.Lock()
        self.woken.acquire()
        #: How a caller awaiting from another loop is told (instead of ``woken``).
        self.notify = notify

    def outcome(self) -> Any:
        if self.exc is not None:
            exc, self.exc = self.exc, None  # no reference cycle through the traceback
            raise exc
        return self.value


class Runner:
    """The process's sync loop, and who runs it.

    Under ``_lock``: ``_owner`` is the thread that runs the loop or is about to (its ident,
    ``_BACKGROUND``, or None for nobody); ``_waiting`` holds the calls of blocked callers not
    done yet, oldest first; ``_remote`` counts calls awaited from other loops not done yet. A
    thread runs the loop only while it is the owner, and passes it on when it stops.
    ``_live`` counts the tasks on the loop not done yet (only the owner touches it).
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._live = 0
        self._pausable: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()
        self.loop.set_task_factory(self._new_task)
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._waiting: dict[_Call, None] = {}
        self._inbox: list[_Call] = []  # handed over, not started yet
        self._remote = 0
        self._background: threading.Thread | None = None
        self._background_turn = threading.Lock()
        self._background_turn.acquire()

    # -- blocking calls ------------------------------------------------------------------------
    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and return its value (or raise its exception)."""
        if asyncio.events._get_running_loop() is self.loop:
            coro.close()
            raise RuntimeError(
                "a blocking OmniQ method was called from a coroutine on the loop that runs "
                "OmniQ's sync objects, which would wait for itself: await the async method "
                "instead (`<name>_async`, or the AsyncOmniQ object)")
        call = _Call(coro)
        with self._lock:
            ours = self._owner is None
            if ours:
                self._owner = call.thread
            else:
                self._waiting[call] = None
                self._hand_over(call)
        if ours:
            self._start(call)
        else:
            self._sleep(call)
        if not call.done:  # the loop is this thread's to run, from the start or handed over
            self._run_until_done(call)
        return cast(T, call.outcome())

    def _hand_over(self, call: _Call) -> None:
        """Queue ``call`` for the loop (under ``_lock``). Only the first call of a burst wakes
        the loop (a write to its pipe); the others join it before it runs."""
        self._inbox.append(call)
        if len(self._inbox) == 1:
            self.loop.call_soon_threadsafe(self._start_inbox)

    def _start_inbox(self) -> None:
        with self._lock:
            calls, self._inbox = self._inbox, []
        for call in calls:
            self._start(call)

    def _sleep(self, call: _Call) -> None:
        try:
            call.woken.acquire()
        except BaseException:  # interrupted (Ctrl+C): cancel the coroutine, pass our turn on
            with self._lock:
                self._waiting.pop(call, None)
                handed = self._owner == call.thread
            self.loop.call_soon_threadsafe(self._cancel, call)
            if handed:
                self._release()
            raise

    def _run_until_done(self, call: _Call) -> None:
        """Run the loop in this thread until ``call`` is done, then pass the loop on."""
        call.runs_loop = True
        # A blocking call from inside another loop's coroutine (bad style, but it works): that
        # loop is suspended in this very frame, and is made current again afterwards.
        outer = asyncio.events._get_running_loop()
        if outer is not None:
            asyncio.events._set_running_loop(None)
        try:
            while not call.done:
                self.loop.run_forever()
        except BaseException:
            if not call.done:  # interrupted: whoever runs the loop next cancels it
                self.loop.call_soon(self._cancel, call)
            raise
        finally:
            if outer is not None:
                asyncio.events._set_running_loop(outer)
            call.runs_loop = False
            self._release()

    def _release(self) -> None:
        """Pass the loop to the oldest blocked caller, else to the background thread if work
        is left on it, else to nobody."""
        with self._lock:
            nxt = next(iter(self._waiting), None)
            if nxt is not None:
                del self._waiting[nxt]
                self._owner = nxt.thread
            elif self._remote or self._busy():
                self._owner = _BACKGROUND
            else:
                self._owner = None
            owner = self._owner
        if nxt is not None:
            nxt.woken.release()
        elif owner == _BACKGROUND:
            self._wake_background()

    def _busy(self) -> bool:
        return self._live > 0

    # -- on the loop ---------------------------------------------------------------------------
    def _new_task(self, loop: asyncio.AbstractEventLoop, coro: Any,
                  **kwargs: Any) -> asyncio.Task[Any]:
        """Every task a coroutine creates on the loop, counted while it lives."""
        task = asyncio.Task(coro, loop=loop, **kwargs)
        self._live += 1
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, _task: asyncio.Task[Any]) -> None:
        self._live -= 1

    def pausable(self, task: asyncio.Task[Any]) -> None:
        """Leave ``task`` out of the work that keeps the loop running between calls (the
        background thread still gives it a turn every ``PULSE`` seconds)."""
        if task.remove_done_callback(self._task_done):
            self._live -= 1
            with self._lock:  # read by the background thread
                self._pausable.add(task)
            self._start_background()

    def _paused(self) -> bool:
        """Whether a pausable task is alive (under ``_lock``, with nobody running the loop)."""
        return any(not t.done() for t in self._pausable)

    def _start(self, call: _Call) -> None:
        # Counted by ``_run`` itself, which also reports the outcome.
        self._live += 1
        call.task = asyncio.Task(self._run(call), loop=self.loop)

    async def _run(self, call: _Call) -> None:
        try:
            if call.stop_early:
                call.coro.close()
                raise asyncio.CancelledError
            call.started = True
            call.value = await call.coro
        except BaseException as exc:  # the caller's to handle, CancelledError included
            call.exc = exc
        self._live -= 1
        call.done = True
        if call.runs_loop:
            # Stop one turn later, after the callbacks this task's end schedules: anyio stops
            # the thread a ``to_thread`` call started in one of them, and a thread left
            # waiting for work would keep the interpreter from exiting. The turn costs ~1.5 us.
            self.loop.call_soon(self.loop.stop)
        elif call.notify is not None:
            with self._lock:
                self._remote -= 1
            call.notify(call)
        else:
            with self._lock:
                self._waiting.pop(call, None)
            call.woken.release()

    def _cancel(self, call: _Call) -> None:
        if call.started:
            assert call.task is not None
            call.task.cancel()
        else:  # it has not run yet (a task that is cancelled before its start never ends)
            call.stop_early = True

    # -- the background thread -----------------------------------------------------------------
    def _wake_background(self) -> None:
        self._start_background()
        self._background_turn.release()

    def _start_background(self) -> None:
        with self._lock:
            if self._background is None:
                self._background = threading.Thread(target=self._serve, name="omniq-sync",
                                                    daemon=True)
                self._background.start()

    def _serve(self) -> None:
        while True:
            run = self._settle
            if not self._background_turn.acquire(timeout=PULSE):
                with self._lock:  # nobody called for a while: a turn for pausable tasks
                    if self._owner is not None or not self._paused():
                        continue
                    self._owner = _BACKGROUND
                run = self._pulse
            try:
                self.loop.run_until_complete(run())
            finally:
                self._release()

    async def _pulse(self) -> None:
        """A few milliseconds for pausable tasks to read their sockets and answer, then
        whatever that started."""
        await asyncio.sleep(0.002)
        await self._settle()

    async def _settle(self) -> None:
        """Return once nothing but this coroutine is left on the loop."""
        me = asyncio.current_task()
        while True:
            others = [t for t in asyncio.all_tasks() if t is not me and t not in self._pausable]
            if others:
                await asyncio.wait(others, return_when=asyncio.FIRST_COMPLETED)
            elif self._remote or self._waiting:
                await asyncio.sleep(0)  # a call from another loop is about to start
            else:
                return

    # -- calls awaited from another loop -------------------------------------------------------
    async def call_async(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` run on this loop, from any other loop, without blocking that one."""
        here = asyncio.get_running_loop()
        if here is self.loop:
            return await coro
        done: asyncio.Future[None] = here.create_future()

        def notify(_call: _Call) -> None:
            here.call_soon_threadsafe(_resolve, done)

        call = _Call(coro, notify)
        with self._lock:
            self._remote += 1
            self._hand_over(call)
            idle = self._owner is None
            if idle:
                self._owner = _BACKGROUND
        if idle:
            self._wake_background()
        try:
            await done
        except asyncio.CancelledError:
            self.loop.call_soon_threadsafe(self._cancel, call)
            raise
        return cast(T, call.outcome())


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


_runner_lock = threading.Lock()
_runner: Runner | None = None


def runner() -> Runner:
    """The process's sync loop (made on first use)."""
    global _runner
    if _runner is None:
        with _runner_lock:
            if _runner is None:
                _runner = Runner()
    return _runner


def current_runner() -> Runner | None:
    """The process's sync loop if one was made (none is made here)."""
    return _runner


def _forget_runner() -> None:
    # A forked child has none of the parent's threads: it starts a loop of its own.
    global _runner
    _runner = None


os.register_at_fork(after_in_child=_forget_runner)


def pausable(task: asyncio.Task[T]) -> asyncio.Task[T]:
    """Mark ``task`` as serving only calls in progress (a subscription that wakes waiters):
    on the sync API's loop, it runs while some call runs the loop, and no thread is kept
    running the loop for it between calls, so blocking calls stay in their own thread.
    Anything it receives meanwhile waits in its socket. Returns ``task``; on other loops it
    does nothing."""
    current = _runner
    if current is not None and task.get_loop() is current.loop:
        current.pausable(task)
    return task


def run_sync(fn: Callable[..., Coroutine[Any, Any, T]], /, *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` on the sync loop and wait for it."""
    return runner().call(fn(*args, **kwargs))


async def run_on_sync_loop(fn: Callable[..., Coroutine[Any, Any, T]], /, *args: Any,
                        **kwargs: Any) -> T:
    """Await ``fn`` run on the sync loop from any other loop without blocking it."""
    return await runner().call_async(fn(*args, **kwargs))


async def _awaited(value: Awaitable[T]) -> T:
    return await value


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
            result = run_sync(_awaited, result)
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
        await run_on_sync_loop(self._async.connect)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await run_on_sync_loop(self._async.__aexit__, *exc_info)

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
        return rewrap(await run_on_sync_loop(getattr(self._async, name), *args, **kwargs))

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
