"""How the pages write times, durations and names (Jinja filters); times are UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from markupsafe import Markup, escape


def when(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") + "Z"


def short(moment: datetime | None) -> str:
    """A time in a list: month, day and time of day (the year is on the task's page)."""
    return "" if moment is None else moment.astimezone(UTC).strftime("%m-%d %H:%M:%S")


def waited(seconds: float | None) -> str:
    """How long, for a number of seconds: ``42 s``, ``3 min``, ``2 h``, ``1 d``."""
    if seconds is None:
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def breakable(name: str) -> Markup:
    """A dotted name that may wrap after its dots and colons, not inside a word."""
    return Markup("<wbr>").join(escape(part) for part in re.split(r"(?<=[.:])", name))


def ago(moment: datetime | None) -> str:
    if moment is None:
        return ""
    seconds = (datetime.now(UTC) - moment).total_seconds()
    return f"in {waited(-seconds)}" if seconds < 0 else f"{waited(seconds)} ago"
