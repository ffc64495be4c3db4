"""Object names: how ids and times become keys that sort right and never leave their folder.

Queue, project and schedule names are checked by the core (``validate_name``: letters, digits,
``_ . -``, not starting with ``.``). Task and schedule ids may be anything a caller passed, so
every id goes through :func:`safe_name` before it becomes part of a key: a plain id is kept as
it is (UUIDv7 ids sort by creation, so listings come out oldest first), anything else is
hex-encoded (or hashed when long) behind a ``~``, which no plain id contains. No key component
can be ``.``, ``..``, empty, or hold a ``/``.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
#: Priorities are stored as ``OFFSET - priority``, so a plain ascending listing gives the
#: highest priority first; any priority within +-OFFSET fits in the fixed width.
_OFFSET = 10**15
_WIDTH = 17


def safe_name(value: str) -> str:
    """``value`` as one path component: itself when plain, else ``~`` + an encoding of it."""
    if _PLAIN.fullmatch(value) and ".." not in value:
        return value
    raw = value.encode()
    if len(raw) <= 100:
        return "~" + raw.hex()
    return "~~" + hashlib.sha256(raw).hexdigest()


def micros(moment: datetime) -> str:
    """``moment`` as fixed-width microseconds since the epoch (sorts as time does)."""
    return f"{round(moment.timestamp() * 1_000_000):020d}"


def from_micros(text: str) -> datetime:
    return datetime.fromtimestamp(int(text) / 1_000_000, UTC)


def priority_key(priority: int) -> str:
    """Higher priorities sort first."""
    if not -_OFFSET < priority < _OFFSET:
        raise ValueError(f"priority {priority} is outside +-{_OFFSET} (the file backend's range)")
    return f"{_OFFSET - priority:0{_WIDTH}d}"


def tail(key: str, fields: int) -> str:
    """The last field of an index entry name of ``fields`` ``_``-separated fields (the safe
    name of an id, which may itself contain ``_``)."""
    return key.split("_", fields - 1)[-1]
