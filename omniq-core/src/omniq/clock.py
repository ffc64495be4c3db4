"""Time as backends store it: aware UTC datetimes, and float epoch seconds in columns.

Public API for backend plugins: every time OmniQ hands a backend is timezone-aware, and a
backend that keeps times as numbers converts them with these two functions, so an instant
reads back as the same instant whatever its zone was (``None`` stays ``None``). Tools that
take a time from people (the command line, the dashboard's filters) read it with
:func:`parse_moment`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import overload

__all__ = ["from_epoch", "parse_moment", "to_epoch", "utcnow"]

_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


# Overloaded so that a datetime gives a float (and a float a datetime) to type checkers: a
# plugin converting ``task.run_at`` then needs no cast.
@overload
def to_epoch(moment: datetime) -> float: ...
@overload
def to_epoch(moment: None) -> None: ...
@overload
def to_epoch(moment: datetime | None) -> float | None: ...
def to_epoch(moment: datetime | None) -> float | None:
    """Float epoch seconds of an aware datetime (None stays None)."""
    return None if moment is None else moment.timestamp()


@overload
def from_epoch(value: float) -> datetime: ...
@overload
def from_epoch(value: None) -> None: ...
@overload
def from_epoch(value: float | None) -> datetime | None: ...
def from_epoch(value: float | None) -> datetime | None:
    """The aware UTC datetime of float epoch seconds (None stays None)."""
    return None if value is None else datetime.fromtimestamp(value, UTC)


def parse_moment(text: str) -> datetime:
    """A time as people write it: ``2026-12-05T10:00:00+01:00``, ``2026-12-05 10:00`` (no
    offset: UTC), or how long ago: ``90s``, ``15m``, ``2h``, ``7d``.

    Raises:
        ValueError: saying which forms are understood.
    """
    text = text.strip()
    unit = _AGE_UNITS.get(text[-1:].lower())
    if unit is not None:
        try:
            return utcnow() - timedelta(seconds=float(text[:-1]) * unit)
        except ValueError:
            pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a time: give an ISO time such as "
                         "2026-12-05T10:00:00Z or '2026-12-05 10:00' (UTC), or an age such as "
                         "90s, 15m, 2h, 7d") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
