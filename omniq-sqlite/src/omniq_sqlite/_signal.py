"""In-process wake-ups: waiters on any event loop or thread, woken by key."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Hashable, Iterable


class Listener:
    """A registration made *before* checking the database, so no notify falls in between."""

    def __init__(self, keys: list[Hashable]) -> None:
        self.keys = keys
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()

    async def wait(self, timeout: float) -> bool:
        """True if notified, False on timeout."""
        try:
            await asyncio.wait_for(self.event.wait(), timeout)
        except TimeoutError:
            return False
        return True


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
                waiting = self._listeners.get(key)
                if waiting is not None:
                    waiting.discard(listener)
                    if not waiting:
                        del self._listeners[key]

    def notify(self, keys: Iterable[Hashable]) -> None:
        with self._lock:
            found = {x for k in keys for x in self._listeners.get(k, ())}
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        for listener in found:
            if listener.loop is here:
                listener.event.set()  # same loop: no need to go through its self-pipe
            elif not listener.loop.is_closed():
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    listener.loop.call_soon_threadsafe(listener.event.set)
