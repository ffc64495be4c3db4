"""What the components do with NOTIFY payloads: wake idle workers and result waiters.

Task channel payloads are ``"<queue> <eta>"``: the earliest eta (epoch seconds) of the tasks
that just became runnable in that queue. A due eta wakes the queue's waiters at once; a future
one is remembered, so an idle worker wakes when it comes due instead of polling for it.
Result channel payloads are comma-separated task ids, each followed (after a space) by the
base64 of its result when the result is small: a waiter then has it without another query.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence

from omniq.etas import Etas


class _Waiter:
    """One wait: its wake-up, whether it was for work (a queue's) or only to recompute its
    deadline (a new eta), and the result if the NOTIFY carried it (a task id's)."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.work = False
        self.blob: bytes | None = None


class _Waiters:
    """The waits in progress, under the keys (queues, task ids) they are woken for."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[_Waiter]] = {}

    def add(self, *keys: str) -> _Waiter:
        waiter = _Waiter()
        for key in keys:
            self._waiters.setdefault(key, set()).add(waiter)
        return waiter

    def remove(self, waiter: _Waiter, *keys: str) -> None:
        for key in keys:
            waiting = self._waiters.get(key)
            if waiting is not None:
                waiting.discard(waiter)
                if not waiting:
                    del self._waiters[key]


class QueueWakeups(_Waiters):
    def __init__(self) -> None:
        super().__init__()
        self.generation: defaultdict[str, int] = defaultdict(int)
        self._seen: dict[str, int] = {}
        self._etas = Etas()

    def on_payload(self, payload: str) -> None:
        queue, _, eta = payload.partition(" ")
        when = float(eta) if eta else 0.0
        if when <= time.time() + 0.001:
            self._wake([queue])
            return
        self._etas.add(queue, when)
        for waiter in self._waiters.get(queue, ()):
            waiter.event.set()  # recompute: the new eta may come before its deadline

    def on_reset(self) -> None:
        """Notifications may have been lost: wake everyone to look again."""
        self._wake(list(set(self.generation) | set(self._waiters)))

    def add_etas(self, etas: Iterable[tuple[str, float]]) -> None:
        for queue, when in etas:
            self.on_payload(f"{queue} {when!r}")

    def _wake(self, queues: Iterable[str]) -> None:
        for queue in queues:
            self.generation[queue] += 1
            for waiter in self._waiters.get(queue, ()):
                waiter.work = True
                waiter.event.set()

    def snapshot(self, queues: Sequence[str]) -> None:
        """Called as a claim starts: a wake-up after this moment must not be slept through."""
        self._seen = {q: self.generation[q] for q in queues}

    async def wait(self, queues: Sequence[str], timeout: float) -> None:
        """Return on a wake-up of one of ``queues``, when a known eta comes due, or after
        ``timeout`` seconds."""
        if any(self.generation[q] != self._seen.get(q, self.generation[q]) for q in queues):
            return  # woken since the last claim began: look again at once
        deadline = time.monotonic() + timeout
        waiter = self.add(*queues)
        try:
            while not waiter.work:
                limit = deadline - time.monotonic()
                eta = self._etas.next(queues)
                if eta is not None:
                    limit = min(limit, eta - time.time())
                if limit <= 0:
                    return
                waiter.event.clear()
                try:
                    await asyncio.wait_for(waiter.event.wait(), limit)
                except TimeoutError:
                    return
        finally:
            self.remove(waiter, *queues)


class ResultWaiters(_Waiters):
    def on_payload(self, payload: str) -> None:
        for entry in payload.split(","):
            task_id, _, inline = entry.partition(" ")
            waiters = self._waiters.get(task_id)
            if waiters:
                blob = base64.b64decode(inline) if inline else None
                for waiter in waiters:
                    waiter.blob = blob if blob is not None else waiter.blob
                    waiter.event.set()

    def on_reset(self) -> None:
        for waiters in list(self._waiters.values()):
            for waiter in waiters:
                waiter.event.set()
