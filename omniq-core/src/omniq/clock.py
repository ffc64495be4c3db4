"""Time as backends store it: aware UTC datetimes, and float epoch seconds in columns.

Public API for backend plugins: every time OmniQ hands a backend is timezone-aware, and a
backend that keeps times as numbers converts them with these two functions, so an instant
reads back as the same instant whatever its zone was (``None`` stays ``None``).
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["from_epoch", "to_epoch", "utcnow"]


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def to_epoch(moment: datetime | None) -> float | None:
    """Float epoch seconds of an aware datetime (None stays None)."""
    return None if moment is None else moment.timestamp()


def from_epoch(value: float | None) -> datetime | None:
    """The aware UTC datetime of float epoch seconds (None stays None)."""
    return None if value is None else datetime.fromtimestamp(value, UTC)
