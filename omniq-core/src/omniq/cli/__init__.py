"""The ``omniq`` command, on click: ``worker``, ``status``, ``tasks``, ``schedules``,
``events``, ``dlq``, ``plugins``, ``demo``, and the commands plugins add (entry-point group
``omniq.commands``). ``docs/user_guide/operations.qmd`` shows each with its output.

Exit codes: 0 done; 1 not found, or the operation was refused (a task already finished, a
schedule already paused); 2 bad usage or configuration; 3 the backend is unavailable.

A plugin's command takes the project the way the built-in ones do with what this module
exports: ``@backend_options`` (``--config``, ``--url``, ``--backend-type``, ``--project``,
``--app``, gathered into a ``source`` argument), ``build_client(source)`` or
``run(source, work)``, ``json_option``, and ``Failure`` for an error with its exit code.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import click

from .. import __version__, plugins
from ..config import configure_logging
from ..config._loader import misspelt_variables
from ._app import Failure, Source, backend_options, build_client, run
from ._dlq import dlq
from ._events import events
from ._group import COMMANDS_GROUP, OmniQGroup
from ._output import echo_json, json_option, table
from ._schedules import schedules
from ._status import status
from ._tasks import tasks
from ._worker import worker

__all__ = ["COMMANDS_GROUP", "Failure", "Source", "backend_options", "build_client", "cli",
           "json_option", "main", "run"]


@click.group(cls=OmniQGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="omniq", message="%(prog)s %(version)s")
@click.option("--log-level", metavar="LEVEL",
              help="DEBUG, INFO, WARNING, ERROR, CRITICAL or DISABLED (default: "
                   "OMNIQ_LOG_LEVEL, else WARNING).")
def cli(log_level: str | None) -> None:
    """OmniQ task queue: run workers and inspect queues, tasks, schedules, events and dead
    letters on any backend."""
    configure_logging(level=log_level, add_handler=True)
    for message in misspelt_variables():  # said here as a log line, not by the client
        logging.getLogger("omniq.cli").warning(message)


@cli.command("plugins")
@json_option
def plugins_command(as_json: bool) -> None:
    """Installed task queues, stores, workers and backends, with their distribution."""
    found = plugins.available()
    if as_json:
        echo_json([{"kind": t.kind, "name": t.name, "distribution": t.distribution,
                    "version": t.version, "aliases": list(t.aliases)} for t in found])
        return
    click.echo(table(["KIND", "NAME", "DISTRIBUTION", "VERSION", "ALIASES"],
                     [[t.kind, t.name, t.distribution, t.version, list(t.aliases)]
                      for t in found]))


@cli.command()
@click.option("--backend", default=None,
              help="A backend type, its settings from the environment: sqlite (the default "
                   "if installed), memory, or another installed one (redis, postgres...).")
@click.option("--tasks", "count", type=click.IntRange(1, 1000), default=5, show_default=True)
def demo(backend: str | None, count: int) -> None:
    """Enqueue a few tasks, run them on a worker, print the results."""
    from .._demo import run

    run(backend, count)


for _command in (worker, status, tasks, schedules, events, dlq):
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``omniq`` with ``argv`` (default: the process's arguments); returns the exit
    code."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="omniq")
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0
