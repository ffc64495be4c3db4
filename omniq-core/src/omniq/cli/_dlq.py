"""``omniq dlq list / requeue / purge``: the dead letters (tasks that failed for good)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import click

from ..models import Task, TaskStatus
from ._app import FAILED, Source, backend_options, run
from ._output import echo_json, json_option, note, table

if TYPE_CHECKING:
    from .._core import AsyncOmniQ

#: Dead letters read per page, and handled at once, by requeue and purge.
PAGE = 500
AT_ONCE = 32


@click.group()
def dlq() -> None:
    """Dead letters: tasks that failed for good (out of retries, poison pills, refused
    payloads)."""


@dlq.command("list")
@backend_options
@click.option("--queue", help="Only this queue's dead letters.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--after", metavar="ID", help="Start after this task id.")
@json_option
def list_dead(source: Source, queue: str | None, limit: int, after: str | None,
              as_json: bool) -> None:
    """Dead letters, newest first, with their error."""

    async def read(client: AsyncOmniQ) -> Any:
        return await client.find_tasks(queue, TaskStatus.FAILED, limit=limit, after=after,
                                       newest_first=True)

    page = run(source, read)
    if as_json:
        echo_json(page)
        return
    rows = [[t.id, t.queue_name, t.name or t.func_name, t.finished_at, t.attempts,
             f"{t.error.type}: {t.error.message}" if t.error else None] for t in page.tasks]
    click.echo(table(["ID", "QUEUE", "NAME", "FAILED AT", "ATTEMPTS", "ERROR"], rows,
                     right=["ATTEMPTS"]) if rows else "No dead letters.")
    if page.next_after:
        note(f"Next page: add --after {page.next_after}")


def _chosen(task_ids: tuple[str, ...], every: bool, queue: str | None) -> None:
    if task_ids and (every or queue):
        raise click.UsageError("give task ids, or --all (with --queue to limit it), not both")
    if not task_ids and not every:
        raise click.UsageError("give the task ids to act on, or --all for every dead letter"
                               + (f" of queue {queue!r}" if queue else ""))


async def _each_dead(client: AsyncOmniQ, queue: str | None, label: str,
                     act: Callable[[AsyncOmniQ, list[Task]], Awaitable[int]]) -> int:
    """``act`` on every dead letter (of ``queue``), a page at a time, with a progress bar
    on stderr; returns what ``act`` counted."""
    counts = await client.task_counts()
    total = sum(held.get(TaskStatus.FAILED, 0) for name, held in counts.items()
                if queue in (None, name))
    done = 0
    after = None
    # On stderr, so --json output stays clean; click draws it on a terminal only.
    with click.progressbar(length=max(total, 1), label=label, show_pos=True,
                           file=sys.stderr) as bar:
        while True:
            page = await client.find_tasks(queue, TaskStatus.FAILED, limit=PAGE, after=after)
            if not page.tasks:
                return done
            done += await act(client, page.tasks)
            bar.update(len(page.tasks))
            after = page.next_after
            if after is None:
                return done


async def _requeue_all(client: AsyncOmniQ, tasks: list[Task]) -> int:
    done = 0
    for start in range(0, len(tasks), AT_ONCE):
        chunk = tasks[start:start + AT_ONCE]
        done += sum(await asyncio.gather(*(client.requeue(t.id) for t in chunk)))
    return done


async def _purge_all(client: AsyncOmniQ, tasks: list[Task]) -> int:
    return await client.delete_tasks([t.id for t in tasks if t.status == TaskStatus.FAILED])


@dlq.command("requeue")
@backend_options
@click.argument("task_ids", metavar="[TASK_ID]...", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every dead letter (of --queue).")
@click.option("--queue", help="With --all: only this queue's.")
@json_option
def requeue(source: Source, task_ids: tuple[str, ...], every: bool, queue: str | None,
            as_json: bool) -> None:
    """Put dead letters back in their queue to run again. Exits 1 if a task given by id was
    not found or is not a dead letter."""
    _chosen(task_ids, every, queue)

    async def act(client: AsyncOmniQ) -> tuple[int, list[str]]:
        if every:
            return await _each_dead(client, queue, "Requeueing", _requeue_all), []
        refused = []
        for task_id in task_ids:
            task = await client.get_task(task_id)
            if task is None or task.status != TaskStatus.FAILED \
                    or not await client.requeue(task_id):
                refused.append(task_id)
        return len(task_ids) - len(refused), refused

    count, refused = run(source, act)
    _finish("requeued", count, refused, as_json)


@dlq.command("purge")
@backend_options
@click.argument("task_ids", metavar="[TASK_ID]...", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every dead letter (of --queue).")
@click.option("--queue", help="With --all: only this queue's.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def purge(source: Source, task_ids: tuple[str, ...], every: bool, queue: str | None,
          yes: bool, as_json: bool) -> None:
    """Delete dead letters and their results for good. Asks first unless --yes; exits 1 if a
    task given by id was not found or is not a dead letter."""
    _chosen(task_ids, every, queue)
    if not yes:
        what = f"every dead letter{f' of queue {queue!r}' if queue else ''}" if every \
            else f"{len(task_ids)} dead letter(s)"
        click.confirm(f"Delete {what} for good?", abort=True, err=True)

    async def act(client: AsyncOmniQ) -> tuple[int, list[str]]:
        if every:
            return await _each_dead(client, queue, "Purging", _purge_all), []
        tasks = [await client.get_task(t) for t in task_ids]
        dead = [t for t in tasks if t is not None and t.status == TaskStatus.FAILED]
        deleted = await _purge_all(client, dead)
        return deleted, [i for i, t in zip(task_ids, tasks, strict=True) if t not in dead]

    count, refused = run(source, act)
    _finish("purged", count, refused, as_json)


def _finish(done: str, count: int, refused: list[str], as_json: bool) -> None:
    if as_json:
        echo_json({done: count, "refused": refused})
    else:
        click.echo(f"{count} dead letter(s) {done}.")
        for task_id in refused:
            note(f"{task_id}: not found or not a dead letter; left as it is")
    if refused:
        raise click.exceptions.Exit(FAILED)

