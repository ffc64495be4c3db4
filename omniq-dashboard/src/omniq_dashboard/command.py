"""``omniq dashboard``: the dashboard served by uvicorn. Registered in the entry-point group
``omniq.commands``, through which the ``omniq`` command adds plugins' commands; it takes the
project with the same options as the built-in commands (``omniq.cli.backend_options``)."""

from __future__ import annotations

import contextlib
import socket

import click
from omniq.cli import Source, backend_options, build_client
from omniq.exceptions import OmniQError
from omniq.queue.memory import AsyncMemoryTaskQueue


@click.command(help="Serve the web dashboard: queues, tasks, schedules, dead letters, workers "
                    "and charts. Read-only unless --allow-actions.")
@backend_options
@click.option("--queues", help="More queues to show, comma-separated (besides the client's "
                                "own, those holding tasks and those workers serve).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback needs your own "
                   "authentication in front.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--allow-actions", is_flag=True,
              help="Allow pausing and resuming schedules and requeueing dead letters.")
def dashboard(source: Source, queues: str | None, host: str, port: int,
              allow_actions: bool) -> None:
    import uvicorn

    from .app import create_app

    try:
        # Events beside the tasks, as the inspection commands read them: the task pages'
        # timelines and the run-time chart come from there.
        client = build_client(source, events_beside=True)
        if isinstance(client.task_queue, AsyncMemoryTaskQueue):
            raise click.UsageError(
                "the dashboard cannot see the in-process 'memory' backend of another process; "
                "choose the backend with --url (e.g. sqlite:///tasks.db or "
                "redis://127.0.0.1:6379/0), --backend-type, --config FILE, --app MODULE:ATTR, "
                "or OMNIQ_TASK_QUEUE_TYPE / OMNIQ_TASK_QUEUE_URL")
        app = create_app(client, actions=allow_actions,
                         queues=[q.strip() for q in (queues or "").split(",") if q.strip()])
    except OmniQError as exc:
        raise click.UsageError(str(exc)) from None
    listening = _listen(host, port)
    port = listening.getsockname()[1]
    mode = "actions allowed" if allow_actions else "read-only"
    click.echo(f"omniq dashboard for project {client.project_name} on http://{host}:{port}/ "
               f"({mode}); Ctrl-C stops it")
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn raises Ctrl-C again once stopped
        uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[listening])


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a port in use or a wrong host is a usage
    error before anything is announced (uvicorn would log it and exit 3, which means the
    store is unavailable)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        raise click.UsageError(
            f"cannot serve the dashboard on {host}:{port}: {exc.strerror or exc}; choose "
            "another --port (0: any free port), or a --host that is an address of this "
            "machine") from None
