"""Which project a command works on, and running its work against it.

Every command that reads or changes a project takes the same options (``--config``, ``--url``,
``--backend-type``, ``--project``, ``--app``) and, with none of them, the ``OMNIQ_*``
environment variables, exactly as the library reads them. The client is an
:class:`~omniq.AsyncOmniQ`; commands use its public API and nothing else.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import inspect
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .._sync import as_async
from ..config import did_you_mean
from ..exceptions import (
    BackendError,
    BackendUnavailableError,
    ConfigError,
    OmniQError,
    PluginNotFoundError,
    TaskNotFoundError,
)

if TYPE_CHECKING:
    from .._core import AsyncOmniQ

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

#: Exit codes a script can rely on (docs/user_guide/operations.qmd, "Exit codes").
OK, FAILED, USAGE, UNAVAILABLE = 0, 1, 2, 3


class Failure(click.ClickException):
    """A command that could not do what it was asked: exit code 1."""

    exit_code = FAILED

    def show(self, file: Any = None) -> None:
        click.echo(f"omniq: error: {self.format_message()}", err=True)


class UsageFailure(Failure):
    """Bad usage or configuration: exit code 2."""

    exit_code = USAGE


class Unavailable(Failure):
    """The backend cannot be reached or used: exit code 3."""

    exit_code = UNAVAILABLE


def failure_of(exc: OmniQError) -> Failure:
    """The exit code of an OmniQ error: 2 bad usage or configuration (an unknown type name
    too), 3 backend unavailable or unusable, 1 not found and anything else refused."""
    if isinstance(exc, ConfigError | PluginNotFoundError):
        return UsageFailure(str(exc))
    if isinstance(exc, BackendUnavailableError | BackendError):
        return Unavailable(str(exc))
    if isinstance(exc, TaskNotFoundError):
        return Failure(str(exc))
    return Failure(f"{type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class Source:
    """Where the project's backend comes from, as the command line gave it."""

    app: str | None = None
    config: str | None = None
    url: str | None = None
    backend_type: str | None = None
    project: str | None = None


def backend_options(command: F) -> F:
    """The options choosing the project and its backend, gathered into ``source``."""

    @click.option("--project", metavar="NAME", help="Project name (default: from the config, "
                  "OMNIQ_PROJECT_NAME, or 'default').")
    @click.option("--backend-type", "--backend", "backend_type", metavar="TYPE",
                  help="Backend type: sqlite, postgres, redis, nats, file, or a plugin's.")
    @click.option("--url", metavar="URL", help="Task queue URL, e.g. redis://127.0.0.1:6379/0 "
                  "or sqlite:///tasks.db.")
    @click.option("--config", "config", metavar="FILE", type=click.Path(dir_okay=False),
                  help="YAML config file, as OmniQ.from_config_file reads it.")
    @click.option("--app", metavar="MODULE:ATTR",
                  help="An OmniQ or AsyncOmniQ object of your code, e.g. myapp.tasks:oq.")
    @functools.wraps(command)
    def wrapper(*args: Any, app: str | None, config: str | None, url: str | None,
                backend_type: str | None, project: str | None, **kwargs: Any) -> Any:
        if app and config:
            raise click.UsageError("give --app or --config, not both")
        return command(*args, source=Source(app, config, url, backend_type, project), **kwargs)

    return wrapper  # type: ignore[return-value]


def import_from_cwd() -> None:
    """Put the current directory first on the import path, as ``python -m`` does: the
    ``omniq`` script would otherwise not find the user's task modules (``tasks.py`` beside the
    config) that Celery's and RQ's workers find."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def load_app(spec: str) -> Any:
    """``module:attribute`` naming an OmniQ / AsyncOmniQ (or a function returning one)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError("bad --app", field="--app", value=spec,
                          expected="module:attribute, e.g. myapp.tasks:oq")
    import_from_cwd()
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
    expected = "module:attribute naming an OmniQ or AsyncOmniQ (or a function that takes no " \
               "arguments and returns one), e.g. myapp.tasks:oq"
    if callable(obj) and not hasattr(obj, "enqueue"):
        try:
            inspect.signature(obj).bind()
        except TypeError:
            raise ConfigError(f"--app {spec} names {getattr(obj, '__qualname__', obj)}"
                              f"{inspect.signature(obj)}, which needs arguments",
                              field="--app", value=spec, expected=expected) from None
        except ValueError:  # no signature to read (a builtin): call it and see
            pass
        obj = obj()
    from .._core import AsyncOmniQ

    client = as_async(obj)
    if not isinstance(client, AsyncOmniQ):
        raise ConfigError(f"--app {spec} names an object of type {type(obj).__name__}, not "
                          "an OmniQ client",
                          field="--app", value=spec, expected=expected)
    return client


def build_client(source: Source, *, events_beside: bool = False,
                 **options: Any) -> AsyncOmniQ:
    """The client for ``source``; ``options`` (``queues=``) go to the constructor.

    ``events_beside``: with ``--url`` or ``--backend-type`` and no event store configured,
    read (and record) events in that engine's own event store, where a program using the
    backend's event store keeps them (the inspection commands; a worker keeps the library's
    rule: no event store configured, no events).
    """
    from .._core import AsyncOmniQ

    _refuse_two_backends(source)
    if source.app:
        return load_app(source.app)
    if source.project:
        options["project_name"] = source.project
    if source.config:
        return AsyncOmniQ.from_config_file(source.config, **options)
    if source.url:
        events = _event_store_at(source.url) if events_beside else None
        return AsyncOmniQ(task_queue=source.url, event_store=events, **options)
    if source.backend_type:
        events = _event_store_of(source.backend_type) if events_beside else None
        return AsyncOmniQ(backend_type=source.backend_type, event_store=events, **options)
    if any(name.startswith("OMNIQ_") for name in os.environ):
        return AsyncOmniQ.from_env(**options)
    return AsyncOmniQ(**options)


def _refuse_two_backends(source: Source) -> None:
    """One place names the backend: of two, one would be ignored without a word, and a worker
    would serve another store or project than the one its command line shows."""
    given = [option for option, value in (("--app", source.app), ("--config", source.config),
                                          ("--url", source.url),
                                          ("--backend-type", source.backend_type)) if value]
    if len(given) > 1:
        raise ConfigError(f"{' and '.join(given)} each choose the backend; give one",
                          field=given[1], value=getattr(source, given[1][2:].replace("-", "_")),
                          expected="one of --app, --config, --url or --backend-type")
    if source.app and source.project:
        raise ConfigError("--project cannot change the project of the --app client",
                          field="--project", value=source.project,
                          expected="no --project with --app: the client names its project")


def _event_store_at(url: str) -> str | None:
    """``url`` if the engine it names keeps events, unless the environment chose a store."""
    from .. import plugins
    from ..config import get_setting

    if get_setting("EVENT_STORAGE_URL") or get_setting("EVENT_STORAGE_TYPE"):
        return None
    try:
        plugins.resolve_url("event_store", url)
    except LookupError:
        return None
    return url


def _event_store_of(backend_type: str) -> str | None:
    """The backend's own event store (its type name), unless the environment chose one."""
    from .. import plugins
    from ..config import get_setting

    if get_setting("EVENT_STORAGE_URL") or get_setting("EVENT_STORAGE_TYPE"):
        return None
    try:
        plugins.lookup("event_store", backend_type)
    except LookupError:
        return None
    return backend_type


def refuse_memory(client: AsyncOmniQ, what: str) -> None:
    """The in-process memory backend holds nothing another process could see."""
    from ..queue.memory import AsyncMemoryTaskQueue

    # A store in this process's memory, whichever backend keeps it (memory://: fsspec's).
    in_memory = str(getattr(client.task_queue, "location", "")).startswith("memory://")
    if isinstance(client.task_queue, AsyncMemoryTaskQueue) or in_memory:
        raise ConfigError(
            f"{what} cannot use a store in this process's memory (the 'memory' backend, a "
            "memory:// URL): no other process sees its tasks", field="backend",
            value=getattr(client.task_queue, "location", "memory"),
            expected="a shared backend, chosen with --url (e.g. sqlite:///tasks.db or "
                     "redis://127.0.0.1:6379/0), --backend-type, --config FILE, --app "
                     "MODULE:ATTR, or OMNIQ_TASK_QUEUE_TYPE / OMNIQ_TASK_QUEUE_URL in the "
                     "environment")


def run(source: Source, work: Callable[[AsyncOmniQ], Awaitable[T]]) -> T:
    """Build the client, run ``work`` with it on a fresh event loop, close it."""
    return asyncio.run(with_client(source, work))


async def with_client(source: Source, work: Callable[[AsyncOmniQ], Awaitable[T]]) -> T:
    """Build the client, run ``work`` with it, close it (on the running loop)."""
    client = build_client(source, events_beside=True)
    refuse_memory(client, "this command")
    try:
        await client.connect()
        return await work(client)
    finally:
        await client.close()
