"""Time helpers: every stored time is timezone-aware UTC; every duration is float seconds."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from .clock import utcnow as utcnow  # public in omniq.clock; imported from here by the core
from .exceptions import ConfigError


def aware(moment: datetime, field: str = "time") -> datetime:
    """``moment`` in UTC. A naive datetime is refused: its meaning depends on the machine."""
    if not isinstance(moment, datetime):
        raise ConfigError(f"{field} must be a datetime", field=field, value=moment,
                          expected="a timezone-aware datetime, e.g. datetime(2030, 1, 1, "
                                   "tzinfo=UTC) or datetime.fromisoformat('2030-01-01T00:00Z')")
    if moment.tzinfo is None:
        raise ConfigError(
            "naive datetime given",
            field=field,
            value=moment,
            expected="a timezone-aware datetime, e.g. datetime.now(UTC) or dt.replace(tzinfo=UTC)",
        )
    return moment.astimezone(UTC)


#: The longest duration a task option takes (100 years, in seconds).
LONGEST_DURATION = 100 * 365.25 * 86400


def seconds(value: timedelta | float | int | None, field: str) -> float | None:
    """A duration as float seconds; accepts timedelta or a number. Negative is an error."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        result = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        result = float(value)
    else:
        raise ConfigError(
            "not a duration", field=field, value=value,
            expected="a timedelta or a number of seconds, e.g. timedelta(minutes=5) or 300"
        )
    if result < 0:
        raise ConfigError("negative duration", field=field, value=value, expected=">= 0 seconds")
    if not math.isfinite(result) or result > LONGEST_DURATION:
        # inf, nan or 1e12 s would be accepted here and break the task later (a date past
        # year 9999, an int of infinity), leaving it running for ever.
        raise ConfigError("duration out of range", field=field, value=value,
                          expected=f"a finite number of seconds, at most {LONGEST_DURATION:.0f} "
                                   "(100 years)")
    return result


def after(moment: datetime, secs: float | None) -> datetime | None:
    return None if secs is None else moment + timedelta(seconds=secs)
