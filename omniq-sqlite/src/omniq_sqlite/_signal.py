"""In-process wake-ups: waiters on any event loop or thread, woken by key."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Hashable, Iterable


class Listener:
    """A registration made *before* checking the database, so no notify falls in between; a
    flag and one future, not ``wait_for(event.wait())`` and its task per wait (this sits on the
    enqueue-to-result path of every task)."""

    def __init__(self, keys: list[Hashable]) -> None:
        self.keys = keys
        self.loop = asyncio.get_running_loop()
        self.notified = False
        self._waiter: asyncio.Future[bool] | None = None

    def set(self) -> None:
        """Mark notified and wake the waiter (call on the listener's loop)."""
        self.notified = True
        _resolve(self._waiter, True)

    async def wait(self, timeout: float) -> bool:
        """True if notified (since the last :meth:`clear`), False on timeout."""
        if self.notified:
            return True
        waiter = self._waiter = self.loop.create_future()
        timer = self.loop.call_later(timeout, _resolve, waiter, False)
        try:
            return await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def clear(self) -> None:
        self.notified = False


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, if any."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _resolve(waiter: asyncio.Future[bool] | None, value: bool) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(value)


class Signal:
    """Wake waiters of this process (any thread, any loop) when a key changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: dict[Hashable, set[Listener]] = {}

    def listen(self, keys: Iterable[Hashable]) -> Listener:
        listener = Listener(list(keys))
        with self._lock:
            for key in listener.keys:
                self._listeners.setdefault(key, set()).add(listener)
        return listener

    def forget(self, listener: Listener) -> None:
        with self._lock:
            for key in listener.keys:
                waiting = self._listeners.get(key, set())
                waiting.discard(listener)
                if not waiting:
                    self._listeners.pop(key, None)

    def notify(self, keys: Iterable[Hashable]) -> None:
        with self._lock:
            found = {x for k in keys for x in self._listeners.get(k, ())}
        here = running_loop()
        for listener in found:
            if listener.loop is here:
                listener.set()  # same loop: no need to go through its self-pipe
            elif not listener.loop.is_closed():
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    listener.loop.call_soon_threadsafe(listener.set)
