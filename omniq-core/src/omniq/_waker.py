"""Wake asyncio waiters from any thread or loop (used by the in-process memory backend)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Hashable


class Waker:
    """``await wait(key, timeout)`` returns when ``notify(key)`` is called (or on timeout).

    Waiters may sit in different event loops (the sync API's loop and a user's loop),
    so notification goes through ``call_soon_threadsafe``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[Hashable, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}

    async def wait(self, keys: Hashable | list[Hashable], timeout: float) -> None:
        keys = keys if isinstance(keys, list) else [keys]
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            for key in keys:
                self._waiters.setdefault(key, set()).add(entry)
        try:
            await asyncio.wait_for(entry[1].wait(), timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                for key in keys:
                    waiters = self._waiters.get(key)
                    if waiters is not None:
                        waiters.discard(entry)
                        if not waiters:
                            del self._waiters[key]

    def notify(self, key: Hashable) -> None:
        with self._lock:
            waiters = list(self._waiters.get(key, ()))
        for loop, event in waiters:
            if loop.is_closed():
                continue
            with contextlib.suppress(RuntimeError):  # loop closed meanwhile
                loop.call_soon_threadsafe(event.set)
