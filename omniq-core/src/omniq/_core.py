"""``AsyncOmniQ``: the high-level API over a task queue, a result store, an event store and
an optional in-process worker. ``OmniQ`` is its sync twin (built in ``omniq/__init__.py``)."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import inspect
import logging
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

import msgspec

from . import _assembly, plugins
from ._component import checked_secret_key
from ._results import outcome, unwrap, wait_for_schedule_result, wait_for_value
from ._sync import as_async
from ._time import aware, seconds
from .config import (
    check_options,
    config_from_env,
    did_you_mean,
    get_setting,
    load_config_file,
    locate_error,
    parse_config,
    redact_url,
    validate_name,
)
from .config._loader import warn_about_misspelt_variables
from .config._logging import check_logging_environment
from .events import EventLogger
from .exceptions import ConfigError, ScheduleNotFoundError, TaskTimeoutError
from .models import (
    DEAD,
    CancelOutcome,
    EventType,
    OmniQConfig,
    QueueStats,
    Schedule,
    ScheduleStatus,
    Task,
    TaskEvent,
    TaskFilter,
    TaskPage,
    TaskStatus,
    WorkerInfo,
)
from .observe import enable
from .plugins._hints import install_hint
from .workers._at_exit import stop_running_workers

if TYPE_CHECKING:
    from .queue import AsyncTaskQueue
    from .storage import AsyncEventStore, AsyncResultStore

logger = logging.getLogger("omniq")


class AsyncOmniQ:
    """Enqueue calls, run workers, read results and events.

    Args:
        project_name: Namespace for this project's tasks, results and keys.
        backend_type: Type name of the engine for every component (``"memory"``,
            ``"sqlite"``, ``"postgres"``, ``"redis"``, ...); defaults to ``TASK_QUEUE_TYPE``.
        backend: A backend bundle object instead of a type name, or the URL of one
            (``backend="redis://host/1"`` is ``url="redis://host/1"``).
        task_queue, result_store, event_store: Components, type names, URLs or
            ``{type, url, config}`` mappings; each overrides what the backend would build.
            Without an event store (and no ``EVENT_STORAGE_TYPE``), events are off.
        queues: Queue names in priority order.
        worker_type, worker_config: Defaults for :meth:`start_worker`.
        secret_key: Signing key (default ``OMNIQ_SECRET_KEY`` or the project's own key).
        metrics: Record Prometheus metrics (``prometheus-client``); default ``OMNIQ_METRICS``.
        tracing: Record OpenTelemetry spans (``opentelemetry-api``); default ``OMNIQ_TRACING``.
        **kwargs: Connection settings for the backend (``url=``, ``host=``, ``base_dir=`` ...);
            a ``url=`` without ``backend_type`` chooses the backend by its scheme.
    """

    def __init__(self, project_name: str | None = None, backend_type: str | None = None,
                 backend: Any = None, task_queue: Any = None, result_store: Any = None,
                 event_store: Any = None, queues: Sequence[str] | None = None,
                 worker_type: str | None = None, worker_config: Mapping[str, Any] | None = None,
                 secret_key: str | None = None, metrics: bool | None = None,
                 tracing: bool | None = None, **kwargs: Any) -> None:
        for name, flag in (("metrics", metrics), ("tracing", tracing)):
            if flag is not None and not isinstance(flag, bool):
                raise ConfigError(f"invalid value for {name}", field=name, value=flag,
                                  expected=f"True, False or None (None: OMNIQ_{name.upper()})")
        # Logger levels come from the environment at import, the application or the CLI;
        # never from here (a second client would reset what the application set).
        warn_about_misspelt_variables()
        check_logging_environment()
        self.project_name = validate_name("project", project_name or get_setting("PROJECT_NAME"))
        self.worker_type = worker_type
        self.worker_config = dict(worker_config or {})
        _check_worker_options(worker_type, self.worker_config, "worker.config.")
        ident: dict[str, Any] = {"project_name": self.project_name,
                                 "secret_key": checked_secret_key(secret_key)}
        # A string is names separated by commas, as OMNIQ_QUEUES and --queues take them.
        defaults: dict[str, Any] = {
            "queues": queues if isinstance(queues, str) else list(queues)} if queues else {}
        if isinstance(backend, str) and "://" in backend and "url" not in kwargs:
            # backend="redis://..." (Celery's word for where results go, and ours for the
            # engine of every component): the URL of the bundle.
            backend, kwargs["url"] = None, backend
        if task_queue is None and backend is None and backend_type is None and \
                isinstance(kwargs.get("url"), str):
            # A URL names its backend by its scheme, as task_queue= and --url do.
            backend_type = plugins.split_type("task_queue", kwargs["url"])[0]
        if task_queue is None and backend is None and backend_type is None:
            task_queue = get_setting("TASK_QUEUE_URL")
            backend_type = None if task_queue else get_setting("TASK_QUEUE_TYPE")
            logger.info("no backend given: using %s (from OMNIQ_TASK_QUEUE_URL / "
                        "OMNIQ_TASK_QUEUE_TYPE, or the default); pass backend_type= or "
                        "task_queue= to choose one", redact_url(task_queue) if task_queue
                        else f"the {backend_type!r} backend")
        with _naming_our_own_parameters(kwargs):
            self.backend = _assembly.backend(backend if backend is not None else backend_type,
                                             **ident, **kwargs)
            if task_queue is None and self.backend is None and backend_type is not None:
                task_queue = {"type": backend_type, "config": kwargs}
                # No bundle class: backend_type still means every component of that type.
                if result_store is None and _has_type("result_store", backend_type):
                    result_store = {"type": backend_type, "config": kwargs}
            elif kwargs and self.backend is None:
                raise ConfigError(f"unexpected argument(s) {sorted(kwargs)}",
                                  field=next(iter(kwargs)), value=next(iter(kwargs.values())),
                                  expected="backend settings together with backend_type")
            self._ident = ident
            self._queue_url = _url_of(task_queue if task_queue is not None else kwargs)
            self.task_queue: AsyncTaskQueue
            if task_queue is None:
                self.task_queue = self.backend.create_task_queue(**defaults)
            else:
                self.task_queue = _assembly.component("task_queue", task_queue, **ident, **defaults)
        self.result_store: AsyncResultStore = self._result_store(result_store)
        if event_store is None:
            event_store = get_setting("EVENT_STORAGE_URL") or get_setting("EVENT_STORAGE_TYPE")
        self.event_store: AsyncEventStore | None = self._component("event_store", event_store)
        for part in (self.task_queue, self.result_store, self.event_store):
            if part is not None and part.project_name != self.project_name:
                logger.warning(
                    "%s uses project %r, not this OmniQ's %r: its tasks, results or events "
                    "live under %r; pass project_name= to the component to match",
                    type(part).__name__, part.project_name, self.project_name,
                    part.project_name)
        self.events = EventLogger(self.event_store)
        if self.event_store is not None:
            _not_closed.add(self)
        self.task_queue.event_logger = self.events
        if metrics or tracing:  # None: the settings, which the task queue applied itself
            enable(self.task_queue, metrics=bool(metrics), tracing=bool(tracing))
        self._worker: Any = None

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} project={self.project_name!r} "
                f"task_queue={self.task_queue!r} result_store={self.result_store!r} "
                f"event_store={self.event_store!r}>")

    def _component(self, kind: str, spec: Any) -> Any:
        """A store from ``spec``. The bare type name of the task queue's engine means that
        engine where the tasks are, with the same connection: the backend's own store, or
        the task queue's URL (``result_store: redis`` beside ``task_queue:
        redis://host/5``), not the engine's default location."""
        if self.backend is not None and isinstance(spec, str) and _has_type("backend", spec) \
                and plugins.resolve("backend", spec) is type(self.backend):
            return getattr(self.backend, f"create_{kind}")()
        if isinstance(spec, str) and self._queue_url is not None \
                and plugins.split_type(kind, spec)[1] is None \
                and plugins.split_type(kind, spec)[0] == _type_of(self._queue_url):
            spec = self._queue_url
        return _assembly.component(kind, spec, **self._ident)

    def _result_store(self, spec: Any) -> Any:
        spec = spec or get_setting("RESULT_STORAGE_URL") or get_setting("RESULT_STORAGE_TYPE")
        if spec:
            return self._component("result_store", spec)
        if self.backend is not None:
            return self.backend.create_result_store()
        store = self.task_queue.default_result_store()
        if store is None:
            logger.info("no result store configured; results are kept in this process's memory")
            store = _assembly.component("result_store", "memory", **self._ident)
        return store

    # -- alternative constructors --------------------------------------------------------------
    @classmethod
    def from_config(cls, config: OmniQConfig | Mapping[str, Any], **overrides: Any) -> Self:
        """Build from an :class:`~omniq.models.OmniQConfig` (or its dict form)."""
        if not isinstance(config, OmniQConfig):
            config = parse_config(config)
        worker = config.worker
        options: dict[str, Any] = {
            "project_name": config.project_name, "backend_type": config.backend_type,
            "queues": config.queues, "secret_key": config.secret_key,
            "worker_type": worker.type if worker else None,
            "worker_config": dict(worker.config) if worker else None,
        }
        queue = config.task_queue
        if config.queues and queue is not None and "queues" in queue.config:
            raise ConfigError("queues are given twice: at the top level and in "
                              "task_queue.config", field="queues", value=config.queues,
                              expected="the queues in one place, the top level or the "
                                       "task queue's config")
        queue = _typed_by_backend("task_queue", queue, config.backend_type)
        if queue is not None and queue.type and not queue.url \
                and config.backend_type in (None, queue.type) and _has_type("backend", queue.type):
            # `task_queue: {type: sqlite, config: {...}}` alone: the same engine for all three.
            _assembly.check_backend_settings(
                plugins.resolve("backend", queue.type), queue.type,
                {k: v for k, v in queue.config.items() if k != "queues"},
                field_prefix="task_queue.config.")
            options["backend_type"] = queue.type
            options.update(queue.config)
        elif queue is not None:
            options["task_queue"] = queue
        for name in ("result_store", "event_store"):
            spec = _typed_by_backend(name, getattr(config, name), config.backend_type)
            if spec is not None and (spec.type or spec.url):
                # A bare type is a name (the backend's own store when it names the backend).
                options[name] = spec.type if not (spec.url or spec.config) else spec
        options.update(overrides)
        return cls(**{k: v for k, v in options.items() if v is not None})

    @classmethod
    def from_config_dict(cls, config: Mapping[str, Any], **overrides: Any) -> Self:
        return cls.from_config(parse_config(config), **overrides)

    @classmethod
    def from_dict(cls, config: Mapping[str, Any], **overrides: Any) -> Self:
        return cls.from_config_dict(config, **overrides)

    @classmethod
    def from_config_file(cls, config_path: str | Path, env_vars: bool = True,
                         **overrides: Any) -> Self:
        """Build from a YAML file; ``${VAR}`` and ``${VAR:-default}`` are replaced by
        environment variables (``env_vars=False`` leaves them); keyword arguments override the
        file (``worker_type=``, ``worker_config=``, top-level keys). An error names the file
        and the line of the key at fault."""
        config = load_config_file(config_path, env_vars=env_vars, **overrides)
        try:
            return cls.from_config(config)
        except ConfigError as exc:
            raise locate_error(exc, config_path) from None

    @classmethod
    def from_env(cls, prefix: str = "OMNIQ_", **overrides: Any) -> Self:
        """Build from ``OMNIQ_*`` environment variables; keyword arguments override them. An
        invalid value is a ConfigError naming its variable."""
        try:
            return cls.from_config(config_from_env(prefix), **overrides)
        except ConfigError as exc:
            raise _as_variable(exc, prefix) from None

    @classmethod
    def from_backend(cls, backend: Any, result_store_backend: Any = None,
                     event_store_backend: Any = None, worker_type: str | None = None,
                     worker_config: Mapping[str, Any] | None = None,
                     queues: Sequence[str] | None = None, **kwargs: Any) -> Self:
        """Build from backend bundles: ``backend`` for tasks, optionally others for results
        and events (events are off unless ``event_store_backend`` is given)."""
        backend = as_async(backend)
        result_store = as_async(result_store_backend).create_result_store() \
            if result_store_backend is not None else None
        event_store = as_async(event_store_backend).create_event_store() \
            if event_store_backend is not None else None
        return cls(project_name=kwargs.pop("project_name", backend.project_name),
                   backend=backend, result_store=result_store, event_store=event_store,
                   queues=queues, worker_type=worker_type, worker_config=worker_config, **kwargs)

    # -- lifecycle -----------------------------------------------------------------------------
    async def connect(self) -> None:
        await self.task_queue.connect()
        if self.result_store is not None:
            await self.result_store.connect()
        if self.event_store is not None:
            await self.event_store.connect()
        await self.events.start()

    async def close(self) -> None:
        """Stop the worker if one runs, flush events, close every component."""
        _not_closed.discard(self)
        if self._worker is not None:
            await self.stop_worker()
        await self.events.stop()
        for part in (self.task_queue, self.result_store, self.event_store):
            if part is not None:
                await part.close()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- tasks ---------------------------------------------------------------------------------
    async def enqueue(self, func: Callable[..., Any], *args: Any, **options: Any) -> str:
        """Enqueue ``func(*args, **func_args, **func_kwargs)``; returns the task id.

        Options: ``func_args`` / ``func_kwargs`` (keyword arguments), ``queue_name``,
        ``priority``, ``run_at`` / ``run_in``, ``ttl``, ``result_ttl``, ``name``,
        ``description``, ``tags``, ``depends_on``, ``callback`` / ``callback_args``,
        ``max_retries``, ``retry_delay``, ``timeout``, ``store_result``, ``task_id``.
        """
        await self.connect()
        return await self.task_queue.enqueue(func, *args, **options)

    async def enqueue_many(self, func: Callable[..., Any], items: Iterable[Any],
                           **options: Any) -> list[str]:
        """One task per item (a tuple of args, a dict of kwargs, or one argument)."""
        await self.connect()
        return await self.task_queue.enqueue_many(func, items, **options)

    async def get_task(self, task_id: str) -> Task | None:
        await self.task_queue.connect()
        return await self.task_queue.get_task(task_id)

    async def list_tasks(self, queue_name: str | None = None, status: TaskStatus | str | None
                         = None, limit: int = 100, offset: int = 0) -> list[Task]:
        await self.task_queue.connect()
        return await self.task_queue.list_tasks(
            queue_name=queue_name, status=_status(status), limit=limit,
            offset=offset)

    async def find_tasks(self, queue_name: str | None = None,
                         status: TaskStatus | str | None = None, *, name: str | None = None,
                         tag: str | None = None, since: datetime | None = None,
                         until: datetime | None = None, limit: int = 50,
                         after: str | None = None, newest_first: bool = False) -> TaskPage:
        """A page of tasks passing every filter given, in enqueue order (``newest_first``
        reverses it); pass the page's ``next_after`` as ``after`` for the next one.

        ``name`` is a glob matched against a task's name and its function
        (``"myapp.tasks:*"``); ``tag`` a tag it carries; ``since`` / ``until`` bound when it
        was enqueued. Queue and status are served by the store's indexes; the other filters
        are checked on the tasks of that selection, and a page that had to look at many
        tasks may come back short, with ``next_after`` set to go on.
        """
        await self.task_queue.connect()
        query = TaskFilter(queue_name=queue_name, status=_status(status),
                           name=name, tag=tag, since=aware(since, "since") if since else None,
                           until=aware(until, "until") if until else None)
        return await self.task_queue.find_tasks(query, limit=limit, after=after,
                                                newest_first=newest_first)

    async def task_counts(self) -> dict[str, dict[TaskStatus, int]]:
        """How many tasks each queue holds, by status (``{queue: {status: n}}``)."""
        await self.task_queue.connect()
        return await self.task_queue.task_counts()

    async def queue_stats(self) -> list[QueueStats]:
        """Per queue: tasks by status, how long the oldest runnable task has waited, and the
        tasks registered workers finished in the last 1, 5 and 15 minutes."""
        await self.task_queue.connect()
        return await self.task_queue.queue_stats()

    async def delete_tasks(self, task_ids: Sequence[str]) -> int:
        """Delete tasks and their results (meant for finished ones: a running task's worker
        then finds it gone and drops its outcome); returns how many tasks existed."""
        await self.task_queue.connect()
        deleted = await self.task_queue.delete_tasks(list(task_ids))
        if self.result_store is not None:
            await self.result_store.connect()
            for task_id in task_ids:
                await self.result_store.delete(task_id)
        return deleted

    async def cancel(self, task_id: str) -> CancelOutcome:
        """Cancel a task: ``CANCELLED`` (it had not started), ``REQUESTED`` (it is running;
        its worker stops it within about a second) or ``ALREADY_FINISHED``, which is false."""
        await self.connect()
        return await self.task_queue.cancel(task_id)

    async def dead_letters(self, queue_name: str | None = None, limit: int = 100) -> list[Task]:
        await self.task_queue.connect()
        return await self.task_queue.dead_letters(queue_name, limit)

    async def requeue(self, task_id: str) -> bool:
        """Put a dead-lettered task back in its queue; its old outcome stops being its result."""
        await self.task_queue.connect()
        task = await self.task_queue.require_task(task_id)
        if task.status in DEAD and self.result_store is not None:
            # Dropped before the requeue, not after: the new run may finish first, and its
            # result must not be the one deleted.
            await self.result_store.connect()
            await self.result_store.delete(task_id)
        return await self.task_queue.requeue(task_id)

    async def get_result(self, task_id: str | None = None,
                         timeout: timedelta | float | None = None,
                         poll_interval: timedelta | float = 0.1, *, schedule_id: str | None = None,
                         kind: Literal["latest", "all"] = "latest") -> Any:
        """The value of a task, waiting up to ``timeout`` (seconds or a timedelta; None: as long
        as it takes).

        With ``schedule_id``, the values of that schedule's runs: ``kind="latest"`` (with a
        ``timeout``, waits up to that long for a first run; without one, None if none yet;
        a failed run raises, as a task's does) or ``kind="all"`` (a list, oldest first, in
        which a failed run is its ``TaskFailedError``, returned, not raised).

        Raises:
            TaskFailedError: the task failed; carries the remote type, message, traceback.
            TaskCancelledError: the task was cancelled or expired.
            TaskNotFoundError: no such task.
            TaskTimeoutError: (a ``TimeoutError``) no result within ``timeout``.
        """
        timeout = seconds(timeout, "timeout")  # a timedelta too; a string is refused
        if task_id is not None and schedule_id is not None:
            raise ConfigError("get_result takes a task_id or a schedule_id, not both",
                              field="schedule_id", value=schedule_id,
                              expected="one of them: a task's value, or a schedule's runs'")
        if kind not in ("latest", "all"):
            raise ConfigError("unknown kind of schedule results", field="kind", value=kind,
                              expected="'latest' (the last run's value) or 'all' (a list)")
        if schedule_id is not None:
            return await self._schedule_result(schedule_id, timeout, kind)
        if task_id is None:
            raise ConfigError("get_result needs a task_id or a schedule_id", field="task_id",
                              value=None)
        poll = seconds(poll_interval, "poll_interval")
        check = 0.05 if poll is None else min(poll, 0.05)  # the status at least every 50 ms
        await self.task_queue.connect()
        if self.result_store is not None:
            await self.result_store.connect()
        return await wait_for_value(self.task_queue, self.result_store, task_id, timeout, check)

    async def _schedule_result(self, schedule_id: str, timeout: float | None,
                               kind: Literal["latest", "all"]) -> Any:
        await self.result_store.connect()
        if kind == "latest" and timeout is not None:
            try:
                run = await wait_for_schedule_result(self.result_store, schedule_id, timeout)
            except TaskTimeoutError:
                await self.task_queue.connect()
                if await self.task_queue.get_schedule(schedule_id) is None:
                    raise ScheduleNotFoundError(f"no schedule with id {schedule_id!r} in "
                                                f"project {self.project_name!r}") from None
                raise
            return unwrap(run.task_id, run)
        found = await self.result_store.get_schedule_results(schedule_id, kind)
        if isinstance(found, list):  # kind="all": a failed run is its error, not raised
            return [outcome(r) for r in found]
        return None if found is None else unwrap(found.task_id, found)

    # -- schedules -----------------------------------------------------------------------------
    async def schedule(self, func: Callable[..., Any], *args: Any, **options: Any) -> str:
        """Create a cron, interval or run-at schedule (see ``AsyncTaskQueue.schedule``)."""
        check_options(self.task_queue.schedule, options, what="schedule", ignore=("func",))
        await self.connect()
        return await self.task_queue.schedule(func, *args, **options)

    async def get_schedule(self, schedule_id: str) -> Schedule | None:
        await self.task_queue.connect()
        return await self.task_queue.get_schedule(schedule_id)

    async def list_schedules(self, status: ScheduleStatus | str | None = None) -> list[Schedule]:
        await self.task_queue.connect()
        return await self.task_queue.list_schedules(
            status=ScheduleStatus(status) if status else None)

    async def pause_schedule(self, schedule_id: str) -> bool:
        return await self.task_queue.pause_schedule(schedule_id)

    async def resume_schedule(self, schedule_id: str) -> bool:
        return await self.task_queue.resume_schedule(schedule_id)

    async def remove_schedule(self, schedule_id: str) -> bool:
        """Delete a schedule (no more fires) and record SCHEDULE_DELETED.

        Returns False, as ``cancel`` does, when no schedule has that id (it may have been
        deleted already); ``pause_schedule`` and ``resume_schedule`` raise
        :class:`ScheduleNotFoundError` instead, as a pause of nothing is a mistake."""
        return await self.task_queue.remove_schedule(schedule_id)

    # -- events --------------------------------------------------------------------------------
    async def get_events(self, task_id: str | None = None, *, schedule_id: str | None = None,
                         type: EventType | str | None = None, since: Any = None,
                         until: Any = None, limit: int = 1000) -> list[TaskEvent]:
        """Recorded lifecycle events (empty when no event store is configured)."""
        if self.event_store is None:
            return []
        await self.events.flush()
        await self.event_store.connect()
        return await self.event_store.query(task_id=task_id, schedule_id=schedule_id, type=type,
                                            since=since, until=until, limit=limit)

    # -- workers -------------------------------------------------------------------------------
    async def list_workers(self) -> list[WorkerInfo]:
        """The workers registered in this project's task queue, by id: those running, and
        those that stopped without a clean stop within the last hour (``worker.alive`` is
        False once three refreshes of its record are missing)."""
        await self.task_queue.connect()
        return await self.task_queue.list_workers()

    async def start_worker(self, worker_type: str | None = None,
                           worker_config: Mapping[str, Any] | None = None,
                           **options: Any) -> Any:
        """Start a worker in this process (background of the running loop); returns it.

        ``worker_type``: ``"async"``, ``"thread_pool"``, ``"process_pool"``, ``"gevent"``...
        Options (``max_workers``, ``queues``, ``lease`` ...) come from ``worker_config`` and
        keyword arguments, over the defaults given to the constructor.
        """
        if self._worker is not None and self._worker._loop_ended:
            await self.stop_worker()
        if self._worker is not None:
            raise ConfigError("a worker is already running; stop_worker() first",
                              field="worker_type", value=worker_type)
        kind, cls = self._worker_class(worker_type)
        config = {**self.worker_config, **(worker_config or {}), **options}
        check_options(cls, config, what=f"the {kind} worker", ignore=_WORKER_ARGS)
        await self.connect()
        worker = cls(self.task_queue, self.result_store, self.event_store, **config)
        await worker.start()
        self._worker = worker
        return worker

    def _worker_class(self, worker_type: str | None) -> tuple[str, type]:
        """The worker type :meth:`start_worker` would start, and its class."""
        kind = worker_type or self.worker_type or get_setting("DEFAULT_WORKER")
        return kind, plugins.resolve("worker", kind)

    async def stop_worker(self, timeout: timedelta | float | None = None) -> None:
        """Stop the worker gracefully (running tasks get ``timeout`` seconds to finish)."""
        timeout = seconds(timeout, "timeout")
        worker, self._worker = self._worker, None
        if worker is not None and not worker._forked:  # a forked parent's worker is its own
            if worker._loop_ended:  # it stopped with its loop; nothing of it can run any more
                logger.warning(
                    "worker %s was not stopped before the event loop it ran in ended: the "
                    "tasks it was running run again once their leases expire; call "
                    "stop_worker() in that loop", worker.worker_id)
            else:
                await worker.stop(timeout)
            self.task_queue.event_logger = self.events

    @property
    def worker(self) -> Any:
        return self._worker


def _has_type(kind: str, type_name: str) -> bool:
    try:
        plugins.lookup(kind, type_name)
    except LookupError:
        return False
    return True


def _typed_by_backend(name: str, spec: Any, backend_type: str | None) -> Any:
    """A component given only options (``OMNIQ_TASK_QUEUE_CONFIG_BASE_DIR`` beside
    ``OMNIQ_BACKEND_TYPE``) is of the backend's type; with no type anywhere, its options
    would be dropped without a word, so that is an error."""
    if spec is None or spec.type or spec.url or not spec.config:
        return spec
    if backend_type is None:
        raise ConfigError(f"{name} has options but no type", field=f"{name}.config",
                          value=sorted(spec.config), expected="a type or a url beside them, "
                          "or backend_type naming the engine of every component")
    return msgspec.structs.replace(spec, type=backend_type)


#: Clients with an event store not closed yet: what they still buffer at exit is written then.
_not_closed: weakref.WeakSet[AsyncOmniQ] = weakref.WeakSet()
#: Seconds the program's exit waits for each client's buffered events to be written.
EXIT_FLUSH_TIMEOUT = 5.0


def _finish_at_exit() -> None:
    """Stop the workers still running when the program ends, then write the events a client
    still buffers without ``close()`` (a module-level client, as in many scripts): the last
    ones would otherwise be lost."""
    from . import _sync

    stop_running_workers()
    for client in list(_not_closed):
        if not client.events.buffered or client.event_store is None:
            continue
        store, sync = client.event_store, _sync.current_runner()
        try:
            if sync is not None and store._connected_in(sync.loop):  # a blocking OmniQ's
                sync.call(asyncio.wait_for(_write_events(client.events, store, close=False),
                                           EXIT_FLUSH_TIMEOUT))
            else:
                asyncio.run(asyncio.wait_for(_write_events(client.events, store, close=True),
                                             EXIT_FLUSH_TIMEOUT))
        except Exception as exc:
            logger.warning("could not write %d events at exit (call close() on the client "
                           "to write them sooner): %s", client.events.buffered, exc)


async def _write_events(events: EventLogger, store: AsyncEventStore, *, close: bool) -> None:
    await store.connect()  # again in this loop if the one it used has ended
    await events.flush()
    if close:
        await store.close()


atexit.register(_finish_at_exit)


def _as_variable(exc: ConfigError, prefix: str) -> ConfigError:
    """``exc`` naming the environment variable its field came from (a component's option,
    ``task_queue.config.busy_timeout``, is ``OMNIQ_TASK_QUEUE_CONFIG_BUSY_TIMEOUT``)."""
    component, _, option = (exc.field or "").partition(".config.")
    if not option or component not in ("task_queue", "result_store", "event_store", "worker"):
        return exc
    name = {"result_store": "RESULT_STORAGE", "event_store": "EVENT_STORAGE"}.get(
        component, component.upper())
    return ConfigError(exc.message, field=f"{prefix}{name}_CONFIG_{option.upper()}",
                       value=exc.value, expected=exc.expected, source="environment",
                       hint=exc.hint)


def _url_of(spec: Any) -> str | None:
    """The URL a task queue spec (a URL, a mapping or struct with ``url`` or ``config.url``,
    or the constructor's backend settings) connects to; None for an object or a bare type."""
    if isinstance(spec, msgspec.Struct):
        spec = {f: getattr(spec, f) for f in spec.__struct_fields__}
    if isinstance(spec, str):
        return spec if plugins.split_type("task_queue", spec)[1] is not None else None
    if isinstance(spec, Mapping):
        url = spec.get("url") or (spec.get("config") or {}).get("url")
        return url if isinstance(url, str) else None
    return None


def _type_of(url: str) -> str | None:
    try:
        return plugins.split_type("task_queue", url)[0]
    except LookupError:
        return None


def _status(value: TaskStatus | str | None) -> TaskStatus | None:
    if not value:
        return None
    try:
        return TaskStatus(value)
    except ValueError:
        raise ConfigError("unknown task status", field="status", value=value,
                          expected="one of " + ", ".join(s.value for s in TaskStatus),
                          hint=did_you_mean(str(value), [s.value for s in TaskStatus])
                          or None) from None


# What Celery's and RQ's constructors call some settings, and how OmniQ says it: the closest
# spelling of ours would mislead ("result_backend": did you mean 'backend'?).
_PEER_SETTINGS = {
    "broker": "where tasks wait is the task queue: task_queue='redis://...' (or backend_type= "
              "and url=)",
    "broker_url": "where tasks wait is the task queue: task_queue='redis://...'",
    "connection": "give the engine's URL: task_queue='redis://...' (or backend_type='redis', "
                  "client=your_redis_client)",
    "result_backend": "results go to the result store: result_store='redis://...'",
    "name": "a project is named with project_name=",
    "main": "a project is named with project_name=",
}


@contextlib.contextmanager
def _naming_our_own_parameters(kwargs: Mapping[str, Any]) -> Iterator[None]:
    """A keyword meant for OmniQ but misspelt (``queue`` for ``queues``) goes on to the
    backend, whose error lists only the backend's options: name the one of ours it resembles."""
    try:
        yield
    except ConfigError as exc:
        own = [n for n in inspect.signature(AsyncOmniQ).parameters if n != "kwargs"]
        if exc.field is None or exc.field not in kwargs:
            raise
        hint = _PEER_SETTINGS.get(exc.field) or did_you_mean(exc.field, own)
        if not hint:
            raise
        raise ConfigError(f"unknown option {exc.field!r} for OmniQ or its backend",
                          field=exc.field, value=exc.value, hint=hint,
                          expected=f"one of OmniQ's ({', '.join(own)}), or {exc.expected} "
                                   "(the backend's)") from None


# What start_worker passes itself: never a user's worker option.
_WORKER_ARGS = ("queue", "result_store", "event_store", "task_queue")


def _check_worker_options(worker_type: str | None, config: Mapping[str, Any],
                          field_prefix: str) -> None:
    """Refuse a misspelled or ill-typed worker option, or a misspelt worker type, when the
    client is built, not when a worker starts. A type not installed here is left for
    start_worker to report: a client that only enqueues may not have the workers' plugins."""
    kind = worker_type or get_setting("DEFAULT_WORKER")
    try:
        cls = plugins.resolve("worker", kind)
    except LookupError as exc:
        installed = [t.name for t in plugins.available() if t.kind == "worker"]
        if worker_type and install_hint("worker", kind) is None \
                and (hint := did_you_mean(kind, installed)):
            raise ConfigError("unknown worker type", field=field_prefix.replace(".config.",
                              ".type") if field_prefix else "worker_type", value=kind,
                              expected="one of " + ", ".join(sorted(installed)),
                              hint=hint) from exc
        return
    check_options(cls, config, what=f"the {kind} worker", field_prefix=field_prefix,
                  ignore=_WORKER_ARGS)
