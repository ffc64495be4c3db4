"""``omniq status``: every queue's depth by state, oldest wait and throughput, and the
registered workers."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from .._time import utcnow
from ..models import QueueStats, TaskStatus, WorkerInfo
from ._app import Source, backend_options, run
from ._output import ago, duration, echo_json, json_option, table

if TYPE_CHECKING:
    from .._core import AsyncOmniQ

#: States always shown as columns; the others appear when some queue holds such tasks.
_ALWAYS = (TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.FAILED)


@click.command()
@backend_options
@json_option
def status(source: Source, as_json: bool) -> None:
    """Queues (tasks by state, oldest wait, completions in the last 1/5/15 minutes) and
    workers (alive or gone, last heartbeat, type, concurrency, queues)."""

    async def read(client: AsyncOmniQ) -> tuple[str, list[QueueStats], list[WorkerInfo]]:
        return client.project_name, await client.queue_stats(), await client.list_workers()

    project, queues, workers = run(source, read)
    if not workers and not any(any(q.counts.values()) for q in queues):
        # Most often a mistyped --url or --project (a SQLite file is even created by it).
        click.echo(f"Nothing is recorded for project {project!r} in this store: no task, no "
                   "worker. If you expected some, check --url or --config, and --project.",
                   err=True)
    if as_json:
        now = utcnow()
        echo_json({"queues": queues, "workers": [
            {**_fields(w), "alive": w.is_alive(now), "heartbeat_age": w.heartbeat_age(now)}
            for w in workers]})
        return
    click.echo(queue_table(queues))
    click.echo()
    click.echo(worker_table(workers) if workers else "No workers registered.")


def _fields(worker: WorkerInfo) -> dict[str, Any]:
    return {f: getattr(worker, f) for f in worker.__struct_fields__}


def queue_table(queues: list[QueueStats]) -> str:
    shown = [s for s in TaskStatus
             if s in _ALWAYS or any(q.counts.get(s) for q in queues)]
    headers = ["QUEUE", *(s.value.upper() for s in shown), "OLDEST WAIT",
               "COMPLETED 1m/5m/15m", "FAILED ATTEMPTS 1m/5m/15m"]
    rows = [[q.queue, *(q.counts.get(s, 0) for s in shown), duration(q.oldest_waiting),
             "/".join(str(q.completed.get(w, 0)) for w in ("1m", "5m", "15m")),
             "/".join(str(q.failed.get(w, 0)) for w in ("1m", "5m", "15m"))]
            for q in queues]
    return table(headers, rows, right=[s.value.upper() for s in shown])


def _state(worker: WorkerInfo, now: datetime) -> str:
    if worker.stopped_at is not None:
        return "stopped"
    return "alive" if worker.is_alive(now) else "gone"


def worker_table(workers: list[WorkerInfo]) -> str:
    now = utcnow()
    rows = [[w.id, _state(w, now), w.host, w.pid, w.worker_type,
             w.concurrency, w.running, ",".join(w.queues), ago(w.last_heartbeat, now)]
            for w in workers]
    return table(["WORKER", "STATE", "HOST", "PID", "TYPE", "CONCURRENCY", "RUNNING", "QUEUES",
                  "LAST HEARTBEAT"], rows, right=["PID", "CONCURRENCY", "RUNNING"])
