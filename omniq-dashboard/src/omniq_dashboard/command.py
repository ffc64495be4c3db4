"""``omniq dashboard``: the dashboard served by uvicorn. Registered in the entry-point group
``omniq.commands``, through which the ``omniq`` command adds plugins' commands."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click
from omniq import AsyncOmniQ
from omniq.exceptions import OmniQError
from omniq.queue.memory import AsyncMemoryTaskQueue, MemoryTaskQueue


def _client(app: str | None, config: str | None, url: str | None, backend_type: str | None,
            project: str | None) -> Any:
    """The client, from the same sources as ``omniq worker``: an object of the user's code, a
    config file, a URL or a backend type (with a project), else the ``OMNIQ_*`` environment."""
    if app:
        module, _, attribute = app.partition(":")
        if not module or not attribute:
            raise click.UsageError(f"--app {app!r}: expected MODULE:ATTRIBUTE, e.g. "
                                   "myapp.tasks:oq")
        sys.path.insert(0, os.getcwd())
        found = getattr(importlib.import_module(module), attribute)
        return found() if callable(found) and not hasattr(found, "enqueue") else found
    options: dict[str, Any] = {"project_name": project} if project else {}
    if config:
        return AsyncOmniQ.from_config_file(config, **options)
    if url:
        return AsyncOmniQ(task_queue=url, **options)
    if backend_type:
        return AsyncOmniQ(backend_type=backend_type, **options)
    return AsyncOmniQ.from_env() if not project else AsyncOmniQ(**options)


@click.command(help="Serve the web dashboard: queues, tasks, schedules, dead letters, workers "
                    "and charts. Read-only unless --allow-actions.")
@click.option("--app", metavar="MODULE:ATTR",
              help="An OmniQ or AsyncOmniQ object of your code, e.g. myapp.tasks:oq.")
@click.option("--config", type=click.Path(exists=True, dir_okay=False),
              help="YAML config file (as OmniQ.from_config_file).")
@click.option("--url", help="Task queue URL, e.g. redis://127.0.0.1:6379/0.")
@click.option("--backend-type", "--backend", "backend_type",
              help="Backend type, e.g. sqlite, redis, postgres.")
@click.option("--project", help="Project name.")
@click.option("--queues", help="More queues to show, comma-separated (besides the client's "
                                "own and those workers serve).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback needs your own "
                   "authentication in front.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--allow-actions", is_flag=True,
              help="Allow pausing and resuming schedules and requeueing dead letters.")
def dashboard(app: str | None, config: str | None, url: str | None, backend_type: str | None,
              project: str | None, queues: str | None, host: str, port: int,
              allow_actions: bool) -> None:
    import uvicorn

    from .app import create_app

    try:
        client = _client(app, config, url, backend_type, project)
        if isinstance(client.task_queue, AsyncMemoryTaskQueue | MemoryTaskQueue):
            raise click.UsageError(
                "the dashboard cannot see the in-process 'memory' backend of another process; "
                "choose the backend with --url (e.g. sqlite:///tasks.db or "
                "redis://127.0.0.1:6379/0), --backend-type, --config FILE, or "
                "OMNIQ_TASK_QUEUE_TYPE / OMNIQ_TASK_QUEUE_URL")
        served = create_app(client, actions=allow_actions,
                            queues=[q.strip() for q in (queues or "").split(",") if q.strip()])
    except OmniQError as exc:
        raise click.UsageError(str(exc)) from None
    mode = "actions allowed" if allow_actions else "read-only"
    click.echo(f"omniq dashboard for project {client.project_name} on http://{host}:{port}/ "
               f"({mode}); Ctrl-C stops it")
    uvicorn.run(served, host=host, port=port, log_level="warning")
