"""``omniq worker``: run a worker in the foreground until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import sys
from typing import Any

import click

from ..config import configure_logging
from ..exceptions import ConfigError
from ._app import Source, backend_options, build_client, import_from_cwd, refuse_memory

logger = logging.getLogger("omniq.cli")


def _queue_list(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str]:
    names = [q.strip() for q in (value or "").split(",") if q.strip()]
    if value is not None and not names:
        raise click.BadParameter(f"{value!r} names no queue: give names separated by commas, "
                                 "e.g. --queues high,low", ctx, param)
    return names


_RERUN = "OMNIQ_COMMAND_MODULE"  # set in the process run again, so it runs once


def _rerun_under_command_module(worker_class: type) -> None:
    """Replace this process by ``python -m <module> <the same arguments>`` when the worker type
    names a ``command_module``: this process has imported ``ssl`` and the drivers already, too
    late for what that module does first (gevent's monkey-patching)."""
    module = getattr(worker_class, "command_module", None)
    main_spec = getattr(sys.modules["__main__"], "__spec__", None)
    if (module is None or os.environ.get(_RERUN) == module
            or (main_spec is not None and main_spec.name.split(".")[0] == module)):
        return
    os.environ[_RERUN] = module
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", module, *sys.argv[1:]])


@click.command()
@backend_options
@click.option("--queues", callback=_queue_list, metavar="Q1,Q2,...",
              help="Queues to serve, highest priority first ('default' is served last unless "
                   "listed).")
@click.option("--type", "worker_type", metavar="TYPE",
              help="Worker type: async, thread_pool, process_pool, gevent, or a plugin's.")
@click.option("--concurrency", type=click.IntRange(min=1), help="Tasks run at once.")
@click.option("--lease", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Seconds a claim lasts without a heartbeat.")
@click.option("--grace", type=click.FloatRange(min=0), default=30.0, show_default=True,
              metavar="SECONDS", help="Seconds running tasks get to finish on stop.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), metavar="PORT",
              help="Serve Prometheus metrics on this port (off by default; needs "
                   "prometheus-client).")
@click.option("--metrics-host", metavar="ADDRESS",
              help="Address the metrics are served on (default 127.0.0.1).")
@click.option("--log-level", metavar="LEVEL",
              help="As omniq --log-level, given after worker (where Celery takes it).")
def worker(source: Source, queues: list[str], worker_type: str | None,
           concurrency: int | None, lease: float | None, grace: float,
           metrics_port: int | None, metrics_host: str | None, log_level: str | None) -> None:
    """Run a worker until SIGTERM or SIGINT, then stop gracefully: claim nothing more, let
    running tasks finish within --grace seconds, put the rest back."""
    if log_level is not None:
        try:
            configure_logging(level=log_level, add_handler=True)
        except ConfigError as exc:
            raise click.BadParameter(str(exc), param_hint="--log-level") from None
    import_from_cwd()  # task functions are imported by name: the user's modules beside us
    metrics = {"metrics_port": metrics_port, "metrics_host": metrics_host}
    asyncio.run(_run(source, queues, worker_type, concurrency, lease, grace,
                     {k: v for k, v in metrics.items() if v is not None}))


async def _run(source: Source, queues: list[str], worker_type: str | None,
               concurrency: int | None, lease: float | None, grace: float,
               metrics: dict[str, Any]) -> None:
    # The queues given, then default unless listed (the task queue and the worker add it).
    client = build_client(source, queues=queues) if queues else build_client(source)
    refuse_memory(client, "a worker process")
    _rerun_under_command_module(client._worker_class(worker_type)[1])
    options: dict[str, Any] = {"grace_period": grace, **metrics}
    if queues:
        options["queues"] = queues
    if concurrency:
        options["max_workers"] = concurrency
    if lease:
        options["lease"] = lease
    started = await client.start_worker(worker_type=worker_type, **options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    served_metrics = started.metrics_address
    click.echo(f"omniq worker {started.worker_id} ({started.worker_type}, "
               f"{started.max_workers} slots) serving {started.queues}"
               + (f"; metrics on http://{served_metrics[0]}:{served_metrics[1]}/metrics"
                  if served_metrics else "") + "; Ctrl-C stops it")
    await stop.wait()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _stop_now)
    logger.warning("stopping gracefully (grace %.0f s); a second Ctrl-C or SIGTERM stops at "
                   "once", grace)
    await client.close()


def _stop_now() -> None:
    """The second signal: stop without waiting for anything (a task that ignores its
    cancellation, a store that does not answer), as one expects of a second Ctrl-C. Whatever
    still runs is neither finished nor put back: it runs again once its lease expires."""
    logger.warning("second signal: stopping now; the tasks still running here run again "
                   "once their leases expire")
    for child in multiprocessing.active_children():  # a process pool's: they would run on
        child.kill()
    logging.shutdown()
    os._exit(1)
