"""``omniq events``: recorded lifecycle events, filtered, and followed as they come."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import click

from .._time import utcnow
from ..models import EventType, TaskEvent
from ._app import Failure, Source, backend_options, run, with_client
from ._output import TIME, check_time_range, echo_json, echo_json_line, json_option, note

if TYPE_CHECKING:
    from .._core import AsyncOmniQ

#: How far back ``omniq events`` looks when neither a task, a schedule nor --since is given.
DEFAULT_WINDOW = timedelta(minutes=10)
#: Seconds between two looks for new events with --follow.
FOLLOW_INTERVAL = 1.0
#: How far back each look of --follow reaches, for events written late; and how many it reads.
FOLLOW_LAG = timedelta(seconds=5)
FOLLOW_BATCH = 10_000


def line(event: TaskEvent) -> str:
    """One event as a log line: time, type, task or schedule, then what else it carries."""
    moment = event.timestamp.astimezone(UTC)
    parts = [moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}",
             f"{event.type.value:<16}", event.task_id or f"schedule {event.schedule_id}"]
    for label, value in (("queue", event.queue_name), ("attempt", event.attempt),
                         ("worker", event.worker_id)):
        if value is not None:
            parts.append(f"{label}={value}")
    if event.task_id and event.schedule_id:
        parts.append(f"schedule={event.schedule_id}")
    if event.message:
        parts.append(event.message)
    return "  ".join(parts)


@click.command()
@backend_options
@click.option("--task", "task_id", metavar="ID", help="Only this task's events.")
@click.option("--schedule", "schedule_id", metavar="ID", help="Only this schedule's events.")
@click.option("--type", "type_", type=click.Choice([t.value for t in EventType],
                                                   case_sensitive=False),
              help="Only events of this type.")
@click.option("--since", type=TIME, help="From this time on: an ISO time (UTC unless it has "
              "an offset) or an age such as 15m (default: 10m, unless --task or --schedule).")
@click.option("--until", type=TIME, help="Up to this time (same forms).")
@click.option("--limit", type=click.IntRange(1, 100_000), default=1000, show_default=True,
              help="At most this many events (the oldest first).")
@click.option("--follow", "-f", is_flag=True,
              help="Keep printing new events as they are recorded, until Ctrl-C or SIGTERM.")
@json_option
def events(source: Source, task_id: str | None, schedule_id: str | None, type_: str | None,
           since: datetime | None, until: datetime | None, limit: int, follow: bool,
           as_json: bool) -> None:
    """Lifecycle events, oldest first: ENQUEUED, EXECUTING, COMPLETE, ERROR, RETRY,
    DEAD_LETTER, SCHEDULE_* and the rest (needs an event store: events are recorded only
    where one is configured)."""
    check_time_range(since, until)
    if since is None and task_id is None and schedule_id is None:
        since = utcnow() - DEFAULT_WINDOW
    kind = EventType(type_.upper()) if type_ else None

    def show(found: list[TaskEvent]) -> None:
        for event in found:
            if as_json and follow:
                echo_json_line(event)
            elif not as_json:
                click.echo(line(event))

    async def read(client: AsyncOmniQ, stop: asyncio.Event | None = None) -> None:
        if client.event_store is None:
            raise Failure("no event store is configured, so no events are recorded: set "
                          "OMNIQ_EVENT_STORAGE_TYPE / OMNIQ_EVENT_STORAGE_URL or event_store "
                          "in the config file, for the workers and here")
        found = await client.get_events(task_id, schedule_id=schedule_id, type=kind,
                                        since=since, until=until, limit=limit)
        if as_json and not follow:
            echo_json(found)
        show(found)
        if len(found) == limit and not follow:
            note(f"Stopped at --limit {limit}: more events may follow; go on with "
                 f"--since {found[-1].timestamp.isoformat()} (it starts with the events of "
                 "that instant, so with the last one printed here)")
        if not found and not follow:
            # Most often the events are recorded in another store than the one read here.
            note(f"No event found in this event store "
                 f"({type(client.event_store).__name__.removeprefix('Async')}). Events are "
                 "recorded where the app and its workers are configured to record them: if "
                 "that is elsewhere, point this command there (--config, --app, or "
                 "OMNIQ_EVENT_STORAGE_TYPE / OMNIQ_EVENT_STORAGE_URL).")
        if stop is None:
            return
        # Events reach the store in batches, a little after their time: each look goes back
        # FOLLOW_LAG seconds and skips the ids already printed.
        seen = {e.id: e.timestamp for e in found}
        latest = found[-1].timestamp if found else (since or utcnow())
        while not await _stopped_within(stop, FOLLOW_INTERVAL):
            batch = await client.get_events(task_id, schedule_id=schedule_id, type=kind,
                                            since=latest - FOLLOW_LAG, until=until,
                                            limit=FOLLOW_BATCH)
            new = [e for e in batch if e.id not in seen]
            show(new)
            seen.update((e.id, e.timestamp) for e in new)
            if batch:
                latest = max(latest, batch[-1].timestamp)
            if len(batch) == FOLLOW_BATCH:  # a burst: move on without looking back
                latest = batch[-1].timestamp + FOLLOW_LAG
            horizon = latest - 2 * FOLLOW_LAG
            seen = {i: t for i, t in seen.items() if t >= horizon}

    async def following() -> None:
        # The handlers first: a Ctrl-C that lands while connecting or on the first look sets
        # the event too, rather than cancelling whatever is awaited; the loop ends at once.
        with _stop_on_signals() as stop:
            await with_client(source, lambda client: read(client, stop))

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C (before the loop runs): a normal end
        if follow:
            asyncio.run(following())
        else:
            run(source, read)


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[asyncio.Event]:
    """An event that Ctrl-C (SIGINT) or SIGTERM sets, for a loop to end on: --follow then
    ends at its next look, closes its connections and exits 0, rather than relying on the
    cancellation of whatever it awaits at that moment (in CI, a cancellation that landed while
    it connected left it running). Where the loop cannot take signal handlers (Windows),
    Ctrl-C interrupts as usual."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    taken = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
            taken.append(signum)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
    try:
        yield stop
    finally:
        for signum in taken:
            loop.remove_signal_handler(signum)


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    """Whether ``stop`` was set within ``seconds`` (waits no longer once it is)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()
