"""How commands print: aligned tables and plain lines for people, JSON for scripts, and the
times and durations in both. A command's JSON is one document on stdout (``events --follow``:
one object per line); messages and progress bars go to stderr."""

from __future__ import annotations

import enum
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import click
import msgspec

from .._time import utcnow
from ..clock import parse_moment
from ..models import Task

_json = msgspec.json.Encoder(enc_hook=repr)
#: Task fields left out of listings and JSON: the signed payload is opaque bytes (its
#: arguments are shown only by the code that may unpickle them: a worker).
_HIDDEN = ("payload",)


#: The ``--json`` flag of every command that prints something.
json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print JSON for scripts instead of a table.")


def echo_json(value: Any) -> None:
    """``value`` as indented JSON on stdout (msgspec structs, times, enums and the rest)."""
    click.echo(msgspec.json.format(_json.encode(plain(value)), indent=2).decode())


def echo_json_line(value: Any) -> None:
    click.echo(_json.encode(plain(value)).decode())


def plain(value: Any) -> Any:
    """``value`` with tasks as dicts without their payload, ready for JSON."""
    if isinstance(value, Task):
        data = msgspec.to_builtins(value)
        for name in _HIDDEN:
            data.pop(name, None)
        return data
    if isinstance(value, dict):
        return {_key(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, msgspec.Struct):
        return {f: plain(getattr(value, f)) for f in value.__struct_fields__}
    return value


def _key(key: Any) -> Any:
    return key.value if isinstance(key, enum.Enum) else key


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *,
          right: Sequence[str] = ()) -> str:
    """Rows under their headers, in columns as wide as their widest cell; columns named in
    ``right`` (numbers) aligned right."""
    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if h in right else v.ljust(w)
                         for v, w, h in zip(values, widths, headers, strict=True)).rstrip()

    return "\n".join([line(headers), *(line(r) for r in cells)])


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return when(value)
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, list | tuple):
        return ",".join(cell(v) for v in value) or "-"
    return str(value)


def when(moment: datetime | None) -> str:
    """A time as people read it here: UTC, to the second."""
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float | None) -> str:
    """``4.2s``, ``3m12s``, ``2h05m``, ``3d04h``."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return "-"
    return duration(max(0.0, ((now or utcnow()) - moment).total_seconds())) + " ago"


def note(message: str) -> None:
    """A message for people, on stderr (stdout stays the command's output)."""
    click.echo(message, err=True)


class TimeParam(click.ParamType):
    """A time on the command line, as :func:`omniq.clock.parse_moment` reads it."""

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_moment(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


TIME = TimeParam()


def check_time_range(since: datetime | None, until: datetime | None) -> None:
    """--since after --until finds nothing: say so rather than print an empty answer."""
    if since is not None and until is not None and since > until:
        raise click.BadParameter(f"--since ({since.isoformat()}) is after --until "
                                 f"({until.isoformat()}): nothing is in that range; with ages, "
                                 "the larger one goes to --since (--since 3h --until 2h)",
                                 param_hint="'--since' / '--until'")


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()
