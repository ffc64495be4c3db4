"""Time-ordered ids (UUIDv7 layout), so indexes on ids stay local and ids sort by creation.

A schedule's fire gets an id derived from (schedule id, fire time): every scheduler computes the
same id for the same fire, so enqueueing it twice is a no-op.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from datetime import datetime

_lock = threading.Lock()
_last_ms = 0
_seq = 0


def _format(ms: int, rand_a: int, rand_b: int) -> str:
    value = (ms & 0xFFFFFFFFFFFF) << 80 | 0x7 << 76 | (rand_a & 0xFFF) << 64
    value |= 0b10 << 62 | (rand_b & 0x3FFFFFFFFFFFFFFF)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_id() -> str:
    """A new UUIDv7 string; strictly increasing within this process."""
    global _last_ms, _seq
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms = _last_ms
            _seq += 1
            if _seq > 0xFFF:  # 4096 ids in one millisecond: borrow the next millisecond
                ms += 1
                _seq = 0
        else:
            _seq = random.getrandbits(8)  # a random start keeps processes apart
        _last_ms = ms
        seq = _seq
    # The random bits keep ids of processes apart, not secret: the module's generator (seeded
    # from the OS, and again in a forked child) costs a twentieth of a getrandom() call.
    return _format(ms, seq, random.getrandbits(62))


def derived_id(namespace: str, moment: datetime) -> str:
    """The id of the fire of ``namespace`` (a schedule id) at ``moment``: deterministic."""
    ms = int(moment.timestamp() * 1000)
    digest = hashlib.sha256(f"{namespace}@{moment.isoformat()}".encode()).digest()
    return _format(ms, int.from_bytes(digest[:2], "big"), int.from_bytes(digest[2:10], "big"))
