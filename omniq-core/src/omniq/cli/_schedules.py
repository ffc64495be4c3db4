"""``omniq schedules list / show / pause / resume / delete``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import click

from ..models import Schedule, ScheduleStatus
from ._app import Failure, Source, backend_options, run
from ._output import echo_json, json_option, plain, table, when

if TYPE_CHECKING:
    from .._core import AsyncOmniQ


@click.group()
def schedules() -> None:
    """List, inspect, pause, resume and delete schedules."""


def _every(schedule: Schedule) -> str:
    if schedule.cron_expression:
        return f"cron {schedule.cron_expression} ({schedule.timezone})"
    if schedule.interval:
        return f"every {schedule.interval:g}s"
    return f"once at {when(schedule.run_at)}"


def _schedule_json(schedule: Schedule) -> dict[str, object]:
    data = plain(schedule)
    data.pop("payload", None)  # opaque signed bytes
    return data


@schedules.command("list")
@backend_options
@click.option("--status", "--state", "status",
              type=click.Choice([s.value for s in ScheduleStatus], case_sensitive=False),
              help="Only schedules in this state.")
@json_option
def list_schedules(source: Source, status: str | None, as_json: bool) -> None:
    """Schedules with their state, timing, runs and next fire."""

    async def read(client: AsyncOmniQ) -> list[Schedule]:
        return await client.list_schedules(status)

    found = run(source, read)
    if as_json:
        echo_json([_schedule_json(s) for s in found])
        return
    rows = [[s.id, s.status, s.name or s.func_name, s.queue_name, _every(s),
             s.run_count if s.max_runs is None else f"{s.run_count}/{s.max_runs}",
             s.next_run_at, s.last_run_at] for s in found]
    click.echo(table(["ID", "STATE", "NAME", "QUEUE", "WHEN", "RUNS", "NEXT RUN", "LAST RUN"],
                     rows, right=["RUNS"]) if rows else "No schedules.")


@schedules.command("show")
@backend_options
@click.argument("schedule_id")
@json_option
def show_schedule(source: Source, schedule_id: str, as_json: bool) -> None:
    """One schedule and every field it has."""

    async def read(client: AsyncOmniQ) -> Schedule | None:
        return await client.get_schedule(schedule_id)

    found = run(source, read)
    if found is None:
        raise Failure(f"no schedule with id {schedule_id!r}")
    if as_json:
        echo_json(_schedule_json(found))
        return
    for label, value in (
            ("id", found.id), ("name", found.name), ("function", found.func_name),
            ("state", found.status.value), ("when", _every(found)),
            ("queue", found.queue_name), ("runs", found.run_count),
            ("max runs", found.max_runs), ("start at", when(found.start_at)),
            ("end at", when(found.end_at)), ("next run", when(found.next_run_at)),
            ("last run", when(found.last_run_at)), ("last task", found.last_task_id),
            ("allow overlap", found.allow_overlap), ("created", when(found.created_at))):
        if value is not None and value != "-":
            click.echo(f"{label + ':':<15}{value}")


def _change(verb: str, past: str,
            call: Callable[[AsyncOmniQ, str], Awaitable[bool]]) -> click.Command:
    """A command applying ``call`` to one schedule; exit 1 when it did nothing."""

    @backend_options
    @click.argument("schedule_id")
    @json_option
    def command(source: Source, schedule_id: str, as_json: bool) -> None:
        async def act(client: AsyncOmniQ) -> tuple[bool, Schedule | None]:
            found = await client.get_schedule(schedule_id)
            return (False if found is None else await call(client, schedule_id)), found

        changed, found = run(source, act)
        if as_json:
            echo_json({"id": schedule_id, "ok": changed,
                       "was": None if found is None else found.status.value})
        if found is None:
            raise Failure(f"no schedule with id {schedule_id!r}")
        if not changed:
            state = found.status.value
            raise Failure(f"schedule {schedule_id} is already {state}" if state == past
                          else f"schedule {schedule_id} was not {past}: it is {state}")
        if not as_json:
            click.echo(f"{schedule_id}: {past}")

    command.__doc__ = f"{verb.capitalize()} a schedule. Exits 1 if it is missing or was not " \
                      f"{past}."
    return click.command(verb)(command)


schedules.add_command(_change("pause", "paused", lambda c, i: c.pause_schedule(i)))
schedules.add_command(_change("resume", "resumed", lambda c, i: c.resume_schedule(i)))
schedules.add_command(_change("delete", "deleted", lambda c, i: c.remove_schedule(i)))
