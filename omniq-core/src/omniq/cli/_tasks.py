"""``omniq tasks list / show / cancel / retry``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import click
import msgspec

from ..exceptions import OmniQError
from ..models import DEAD, CancelOutcome, Task, TaskPage, TaskStatus
from ._app import FAILED, Failure, Source, backend_options, run
from ._output import TIME, check_time_range, echo_json, json_option, note, plain, table, when

if TYPE_CHECKING:
    from .._core import AsyncOmniQ

STATES = click.Choice([s.value for s in TaskStatus], case_sensitive=False)


@click.group()
def tasks() -> None:
    """List, inspect, cancel and retry tasks."""


@tasks.command("list")
@backend_options
@click.option("--queue", help="Only this queue.")
@click.option("--status", "--state", "status", type=STATES, help="Only tasks in this state.")
@click.option("--name", metavar="GLOB",
              help="Task name or function (module:qualname) matching this glob, e.g. "
                   "'myapp.tasks:*'.")
@click.option("--tag", help="Only tasks carrying this tag.")
@click.option("--since", type=TIME, help="Enqueued at or after: an ISO time (UTC unless it "
              "has an offset) or an age such as 15m, 2h, 7d.")
@click.option("--until", type=TIME, help="Enqueued before (same forms as --since).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--after", metavar="ID", help="Start after this task id (the cursor the "
              "previous page printed).")
@click.option("--oldest-first", is_flag=True, help="Oldest first (default: newest first).")
@json_option
def list_tasks(source: Source, queue: str | None, status: str | None, name: str | None,
               tag: str | None, since: datetime | None, until: datetime | None, limit: int,
               after: str | None, oldest_first: bool, as_json: bool) -> None:
    """Tasks, newest first, filtered by queue, state, name, tag and enqueue time."""
    check_time_range(since, until)

    async def read(client: AsyncOmniQ) -> TaskPage:
        return await client.find_tasks(queue, status, name=name, tag=tag, since=since,
                                       until=until, limit=limit, after=after,
                                       newest_first=not oldest_first)

    page = run(source, read)
    if as_json:
        echo_json(page)
        return
    rows = [[t.id, t.queue_name, t.status, t.name or t.func_name, t.created_at, t.attempts,
             t.error.type if t.error else None] for t in page.tasks]
    click.echo(table(["ID", "QUEUE", "STATE", "NAME", "ENQUEUED", "ATTEMPTS", "ERROR"], rows,
                     right=["ATTEMPTS"]) if rows else "No tasks match.")
    if page.next_after and page.examined == len(page.tasks):
        note(f"Next page: add --after {page.next_after}")
    elif page.next_after:
        note(f"More may match: add --after {page.next_after} to look further "
             f"({page.examined} tasks looked at).")


@tasks.command("show")
@backend_options
@click.argument("task_id")
@json_option
def show_task(source: Source, task_id: str, as_json: bool) -> None:
    """One task: its fields, its error and traceback, and its result when it has one."""

    async def read(client: AsyncOmniQ) -> tuple[Task | None, Any]:
        task = await client.get_task(task_id)
        if task is None or task.status != TaskStatus.COMPLETED or not task.store_result:
            return task, None
        try:
            result = await client.result_store.get(task_id)
        except OmniQError as exc:  # e.g. signed with a key this machine does not have
            return task, f"(not readable here: {exc})"
        return task, None if result is None else result.result

    task, result = run(source, read)
    if task is None:
        raise Failure(f"no task with id {task_id!r}")
    if as_json:
        echo_json({**plain(task), "result": _jsonable(result)})
        return
    for label, value in (
            ("id", task.id), ("name", task.name), ("function", task.func_name),
            ("queue", task.queue_name), ("state", task.status.value),
            ("priority", task.priority), ("tags", ", ".join(task.tags) or None),
            ("enqueued", when(task.created_at)), ("run at", when(task.run_at)),
            ("started", when(task.started_at)), ("finished", when(task.finished_at)),
            ("attempts", task.attempts), ("retries", f"{task.retries} of {task.max_retries}"),
            ("worker", task.worker_id), ("depends on", ", ".join(task.depends_on) or None),
            ("schedule", task.schedule_id), ("progress", task.progress),
            ("cancel requested", task.cancel_requested or None)):
        if value is not None and value != "-":
            click.echo(f"{label + ':':<18}{value}")
    if task.status == TaskStatus.COMPLETED and task.store_result:
        click.echo(f"{'result:':<18}{result!r}")
    if task.error is not None:
        click.echo(f"{'error:':<18}{task.error.type}: {task.error.message}")
        if task.error.traceback:
            click.echo(task.error.traceback.rstrip())


def _jsonable(value: Any) -> Any:
    """``value`` if JSON can hold it, else its ``repr``."""
    try:
        msgspec.json.encode(value)
    except (TypeError, msgspec.EncodeError):
        return repr(value)
    return value


_OUTCOME = {CancelOutcome.CANCELLED: "cancelled", CancelOutcome.REQUESTED: "cancel requested",
            CancelOutcome.ALREADY_FINISHED: "already finished"}


@tasks.command("cancel")
@backend_options
@click.argument("task_ids", metavar="TASK_ID...", nargs=-1, required=True)
@json_option
def cancel_tasks(source: Source, task_ids: tuple[str, ...], as_json: bool) -> None:
    """Cancel tasks: at once if they have not started, else ask their worker to stop them.
    Exits 1 if one was not found or had already finished."""

    async def act(client: AsyncOmniQ) -> list[tuple[str, str]]:
        done = []
        for task_id in task_ids:
            task = await client.get_task(task_id)
            outcome = "not found" if task is None else _OUTCOME[await client.cancel(task_id)]
            done.append((task_id, outcome))
        return done

    _report(run(source, act), ok={"cancelled", "cancel requested"}, as_json=as_json)


@tasks.command("retry")
@backend_options
@click.argument("task_ids", metavar="TASK_ID...", nargs=-1, required=True)
@json_option
def retry_tasks(source: Source, task_ids: tuple[str, ...], as_json: bool) -> None:
    """Run failed, cancelled or expired tasks again (their old result is dropped). Exits 1 if
    one was not found or had not ended that way."""

    async def act(client: AsyncOmniQ) -> list[tuple[str, str]]:
        done = []
        for task_id in task_ids:
            task = await client.get_task(task_id)
            if task is None:
                done.append((task_id, "not found"))
            elif task.status not in DEAD:
                done.append((task_id, f"not retried: it is {task.status.value}"))
            else:
                done.append((task_id, "requeued" if await client.requeue(task_id)
                             else "not retried: it changed meanwhile"))
        return done

    _report(run(source, act), ok={"requeued"}, as_json=as_json)


def _report(outcomes: list[tuple[str, str]], *, ok: set[str], as_json: bool) -> None:
    """Print each task's outcome; exit 1 when one is not in ``ok``."""
    if as_json:
        echo_json([{"id": task_id, "outcome": outcome, "ok": outcome in ok}
                   for task_id, outcome in outcomes])
    else:
        for task_id, outcome in outcomes:
            click.echo(f"{task_id}: {outcome}")
    if any(outcome not in ok for _, outcome in outcomes):
        raise click.exceptions.Exit(FAILED)
