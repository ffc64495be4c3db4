"""Future etas remembered per key: what an idle worker wakes up for without polling.

Public API for backend plugins. Engines that learn of delayed tasks as they are written (a
NOTIFY payload, this process's own writes) keep them here (``etas.add(key, epoch_seconds)``);
``wait_for_work`` ends its wait at ``etas.next(keys)``, the earliest one still ahead.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Hashable, Iterable

__all__ = ["Etas"]


class Etas:
    """A short sorted list of future etas (epoch seconds) per key."""

    def __init__(self, per_key: int = 64) -> None:
        # Later etas than the first ``per_key`` are dropped: the worker's periodic look
        # finds those.
        self.per_key = per_key
        self._etas: dict[Hashable, list[float]] = {}

    def add(self, key: Hashable, eta: float) -> None:
        etas = self._etas.setdefault(key, [])
        bisect.insort(etas, eta)
        del etas[self.per_key:]

    def next(self, keys: Iterable[Hashable]) -> float | None:
        """The earliest eta still ahead under ``keys``; passed ones are forgotten."""
        now, found = time.time(), None
        for key in keys:
            etas = self._etas.get(key)
            while etas and etas[0] <= now:
                etas.pop(0)
            if etas and (found is None or etas[0] < found):
                found = etas[0]
        return found
