"""A gevent hub in its own OS thread, where task greenlets run.

The worker's asyncio loop stays in its thread: greenlets that block (even without yielding)
never hold it up, so heartbeats, timeouts and cancel checks keep going. The two threads talk
only through their thread-safe doors: ``hub.loop.run_callback_threadsafe`` one way,
``loop.call_soon_threadsafe`` the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
from gevent import Greenlet, GreenletExit

#: Seconds between the hub thread's looks at its stop flag (keeps its loop alive when idle).
IDLE_TICK = 1.0


class GreenletKilled(Exception):
    """A task's greenlet was killed before it returned."""


class HubThread:
    """One OS thread running a gevent hub; runs functions in greenlets spawned there."""

    def __init__(self, name: str = "omniq-gevent-hub") -> None:
        self._ready = threading.Event()
        self._greenlets: dict[str, Greenlet] = {}  # touched only in the hub thread
        self._hub: Any = None
        self._stop: gevent.event.Event | None = None
        self.thread = threading.Thread(target=self._main, name=name, daemon=True)
        self.thread.start()
        self._ready.wait()

    def _main(self) -> None:
        self._hub = gevent.get_hub()
        self._stop = gevent.event.Event()
        self._ready.set()
        # With a timeout: a wait with nothing else scheduled would end the loop (LoopExit).
        while not self._stop.wait(IDLE_TICK):
            pass
        for greenlet in list(self._greenlets.values()):
            greenlet.kill(block=False)
        gevent.sleep(0)  # let the kills be delivered before the hub goes
        self._hub.destroy(destroy_loop=True)

    def in_hub_thread(self) -> bool:
        return threading.current_thread() is self.thread

    def _threadsafe(self, func: Callable[..., Any], *args: Any) -> None:
        self._hub.loop.run_callback_threadsafe(func, *args)

    def spawn(self, key: str, func: Callable[[], Any], future: asyncio.Future[Any]) -> None:
        """Run ``func()`` in a new greenlet; settle ``future`` (on its loop) with its outcome.

        Called from any thread; ``key`` names the greenlet for :meth:`kill`.
        """
        self._threadsafe(self._spawn, key, func, future)

    def _spawn(self, key: str, func: Callable[[], Any], future: asyncio.Future[Any]) -> None:
        def run() -> None:
            try:
                outcome: tuple[bool, Any] = (True, func())
            except GreenletExit:
                outcome = (False, GreenletKilled(f"the greenlet of {key} was killed"))
            except BaseException as exc:  # handed to the awaiting coroutine, as raised
                outcome = (False, exc)
            finally:
                self._greenlets.pop(key, None)
            _settle_threadsafe(future, *outcome)

        self._greenlets[key] = gevent.spawn(run)

    def kill(self, key: str) -> None:
        """Kill the greenlet ``key`` at its next yield (from any thread; returns at once)."""
        self._threadsafe(self._kill, key)

    def _kill(self, key: str) -> None:
        greenlet = self._greenlets.get(key)
        if greenlet is not None:
            greenlet.kill(block=False)

    def call(self, func: Callable[..., Any], *args: Any) -> Any:
        """From a greenlet of this hub: run a blocking ``func`` in one of gevent's real
        threads and wait for it cooperatively (other greenlets run meanwhile)."""
        return self._hub.threadpool.apply(func, args)

    def stop(self) -> None:
        """Kill every greenlet and end the thread; does not wait for code blocked in C."""
        assert self._stop is not None
        self._threadsafe(self._stop.set)


def _settle_threadsafe(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    # A closed loop (the worker is gone) raises RuntimeError: nobody waits for this outcome.
    with contextlib.suppress(RuntimeError):
        future.get_loop().call_soon_threadsafe(_settle, future, ok, value)


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():  # cancelled (timeout, cancel request, stop): the late outcome is dropped
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
