"""The ``omniq`` command: ``omniq worker``, ``omniq plugins``, ``omniq demo``."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import signal
import sys
from typing import Any

from . import __version__, plugins
from ._sync import as_async
from .config import configure_logging, did_you_mean
from .exceptions import ConfigError, OmniQError

logger = logging.getLogger("omniq.cli")


def _load_app(spec: str) -> Any:
    """``module:attribute`` naming an OmniQ / AsyncOmniQ (or a function returning one)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError("bad --app", field="--app", value=spec,
                          expected="module:attribute, e.g. myapp.tasks:oq")
    sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module_name.startswith(exc.name):
            raise  # the app module exists but imports something missing: its own traceback
        raise ConfigError(f"cannot import module {exc.name!r} for --app", field="--app",
                          value=spec, expected="module:attribute importable from the current "
                          f"directory ({os.getcwd()}) or sys.path, e.g. myapp.tasks:oq") from None
    try:
        obj: Any = getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"module {module_name!r} has no attribute {attr!r}", field="--app",
                          value=spec, expected="module:attribute naming an OmniQ object",
                          hint=did_you_mean(attr, [n for n in dir(module) if not n.startswith("_")])
                          or None) from None
    if callable(obj) and not hasattr(obj, "enqueue"):
        obj = obj()
    return as_async(obj)


def _build_app(args: argparse.Namespace) -> Any:
    from ._core import AsyncOmniQ

    if args.app:
        return _load_app(args.app)
    if args.config:
        return AsyncOmniQ.from_config_file(args.config)
    options: dict[str, Any] = {}
    if args.project:
        options["project_name"] = args.project
    if args.url:
        options["task_queue"] = args.url
    elif args.backend:
        options["backend_type"] = args.backend
    if args.queues:
        options["queues"] = _served(args.queues)
    if not options.get("task_queue") and not options.get("backend_type"):
        return AsyncOmniQ.from_env() if any(k.startswith("OMNIQ_") for k in os.environ) \
            else AsyncOmniQ(**options)
    return AsyncOmniQ(**options)


def _served(queues: list[str]) -> list[str]:
    """The queues a CLI worker serves: those listed, then ``default`` unless listed, so a task
    enqueued without a queue_name is never stranded (docs/user_guide/queues.qmd)."""
    return queues if "default" in queues else [*queues, "default"]


def _refuse_memory(app: Any) -> None:
    """A worker process on the in-process memory queue can never see a client's tasks."""
    from .queue.memory import AsyncMemoryTaskQueue

    if isinstance(app.task_queue, AsyncMemoryTaskQueue):
        raise ConfigError(
            "a worker process cannot serve the in-process 'memory' backend: no other process "
            "sees its tasks",
            field="backend", value="memory",
            expected="a shared backend, chosen with --url (e.g. sqlite:///tasks.db or "
                     "redis://127.0.0.1:6379/0), --backend, --config FILE, --app MODULE:ATTR, "
                     "or OMNIQ_TASK_QUEUE_TYPE / OMNIQ_TASK_QUEUE_URL in the environment")


async def _run_worker(args: argparse.Namespace) -> None:
    app = _build_app(args)
    _refuse_memory(app)
    options: dict[str, Any] = {}
    if args.queues:
        options["queues"] = _served(args.queues)
    if args.concurrency:
        options["max_workers"] = args.concurrency
    if args.lease:
        options["lease"] = args.lease
    options["grace_period"] = args.grace
    worker = await app.start_worker(worker_type=args.type, **options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"omniq worker {worker.worker_id} ({worker.worker_type}, {worker.max_workers} slots) "
          f"serving {worker.queues}; Ctrl-C stops it", flush=True)
    await stop.wait()
    logger.warning("stopping gracefully (grace %.0f s)", args.grace)
    await app.close()


def _queues(value: str) -> list[str]:
    return [q.strip() for q in value.split(",") if q.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="omniq", description="OmniQ task queue")
    parser.add_argument("--version", action="version", version=f"omniq {__version__}")
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING, ERROR")
    sub = parser.add_subparsers(dest="command", required=True)

    worker = sub.add_parser("worker", help="run a worker until SIGTERM/SIGINT")
    source = worker.add_mutually_exclusive_group()
    source.add_argument("--app", help="module:attribute of an OmniQ or AsyncOmniQ object")
    source.add_argument("--config", help="YAML config file (as OmniQ.from_config_file)")
    worker.add_argument("--backend", help="backend type, e.g. sqlite, redis, postgres")
    worker.add_argument("--url", help="task queue URL, e.g. redis://127.0.0.1:6379/0")
    worker.add_argument("--project", help="project name")
    worker.add_argument("--queues", type=_queues,
                        help="queues to serve, highest priority first: high,medium,low "
                             "('default' is served last unless listed)")
    worker.add_argument("--type", default=None,
                        help="worker type: async, thread_pool, process_pool, ...")
    worker.add_argument("--concurrency", type=int, help="tasks run at once (max_workers)")
    worker.add_argument("--lease", type=float, help="lease seconds")
    worker.add_argument("--grace", type=float, default=30.0,
                        help="seconds running tasks get to finish on stop")

    sub.add_parser("plugins", help="list installed task queues, stores, workers, backends")

    demo = sub.add_parser("demo", help="enqueue a few tasks, run them, print the results")
    demo.add_argument("--backend", default=None, help="sqlite (default if installed) or memory")
    demo.add_argument("--tasks", type=int, default=5)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(level=args.log_level, add_handler=True)
    try:
        if args.command == "plugins":
            for t in plugins.available():
                extra = f" (aliases: {', '.join(t.aliases)})" if t.aliases else ""
                print(f"{t.kind:<13} {t.name:<14} {t.distribution} {t.version}{extra}")
        elif args.command == "demo":
            from ._demo import run

            run(args.backend, args.tasks)
        else:
            asyncio.run(_run_worker(args))
    except OmniQError as exc:
        print(f"omniq: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
