"""``AsyncTaskQueue``: the task queue API and lifecycle, written once over the storage interface
(:class:`omniq.contract.TaskQueueContract`, which backends implement)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from .._component import AsyncComponent
from .._ids import new_id
from .._time import after, aware, seconds, utcnow
from ..config import get_setting, validate_name, validate_task_id
from ..contract import Finished, ResultRecord, TaskQueueContract
from ..exceptions import ConfigError, TaskNotFoundError
from ..models import (
    DEAD,
    FINISHED,
    RUNNABLE,
    CancelOutcome,
    ErrorInfo,
    EventType,
    Task,
    TaskStatus,
    binding_values,
)
from ..models._worker import recent_window
from ..observe import Observer, observers_from_settings
from ._inspection import InspectionMixin
from ._options import check_arguments, check_task_options, explain_missing_argument
from ._scheduling import SchedulingMixin
from ._writer import GroupWriter, build_while_writing, can_overlap

if TYPE_CHECKING:
    from ..events import EventLogger

logger = logging.getLogger("omniq.queue")
replace = msgspec.structs.replace
DEFAULT_QUEUE = "default"
#: The largest priority, either way (a 32-bit int).
PRIORITY_LIMIT = 2**31 - 1


class AsyncTaskQueue(SchedulingMixin, InspectionMixin, AsyncComponent, TaskQueueContract):
    """Named queues of tasks, with priorities, etas, leases, dependencies and schedules.

    Args:
        project_name: Namespace of this project's tasks in the store.
        queues: Queue names in priority order (first = served first). ``"default"`` is always
            served too, last, so a task enqueued without a queue name is never stranded.
        secret_key: Signing key; defaults to ``OMNIQ_SECRET_KEY`` or the project's own key.
    """

    kind = "task_queue"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # A backend implements the storage interface and nothing above it.
        super().__init_subclass__(**kwargs)
        overridden = sorted(_LIFECYCLE.intersection(vars(cls)))
        if overridden:
            raise TypeError(
                f"{cls.__qualname__} overrides {', '.join(overridden)} of AsyncTaskQueue: a "
                "backend implements only the storage interface (omniq.contract.TaskQueueContract); "
                "the lifecycle is the core's (see docs/user_guide/architecture.qmd)")

    def __init__(self, *, project_name: str | None = None, queues: Sequence[str] | None = None,
                 secret_key: str | None = None) -> None:
        super().__init__(project_name=project_name, secret_key=secret_key)
        if queues is None and (setting := get_setting("QUEUES")) != [DEFAULT_QUEUE]:
            queues = setting  # OMNIQ_QUEUES; its default declares nothing (any queue goes)
        if isinstance(queues, str):
            queues = [q.strip() for q in queues.split(",") if q.strip()]
        names = [validate_name("queue", q) for q in (queues or [])]
        if len(set(names)) != len(names):
            raise ConfigError("duplicate queue names", field="queues", value=list(names))
        self.declared_queues = names
        self.queues = names + ([DEFAULT_QUEUE] if DEFAULT_QUEUE not in names else [])
        #: Set by OmniQ or a worker; lifecycle transitions report events through it.
        self.event_logger: EventLogger | None = None
        #: Sees enqueues, claims, executions and finishes (metrics, traces); None: nothing
        #: is called (see omniq.observe).
        self.observer: Observer | None = None
        observers_from_settings(self)
        # Task defaults are read from settings once, when the queue is made, not per task.
        self._defaults = {name: get_setting(name) for name in (
            "TASK_TTL", "RESULT_TTL", "RETRY_ATTEMPTS", "RETRY_DELAY", "TASK_TIMEOUT",
            "MAX_DELIVERIES")}
        # Concurrent enqueues of this process share round trips (see ._writer).
        self._writer = GroupWriter(self.add_tasks)

    # -- building tasks ------------------------------------------------------------------------
    def build_task(
        self,
        func: Callable[..., Any],
        *args: Any,
        func_args: dict[str, Any] | None = None,
        func_kwargs: dict[str, Any] | None = None,
        queue_name: str | None = None,
        name: str | None = None,
        description: str | None = None,
        tags: Sequence[str] | None = None,
        priority: int = 0,
        run_at: datetime | None = None,
        run_in: timedelta | float | None = None,
        ttl: timedelta | float | None = None,
        result_ttl: timedelta | float | None = None,
        depends_on: Sequence[str] | None = None,
        callback: Callable[..., Any] | None = None,
        callback_args: dict[str, Any] | None = None,
        max_retries: int | None = None,
        retry_delay: timedelta | float | None = None,
        store_result: bool = True,
        timeout: timedelta | float | None = None,
        task_id: str | None = None,
        max_deliveries: int | None = None,
        schedule_id: str | None = None,
        trace_context: dict[str, str] | None = None,
        now: datetime | None = None,
    ) -> Task:
        """A signed :class:`Task` for ``func(*args, **func_args, **func_kwargs)``; not stored."""
        if not callable(func):
            raise ConfigError("func is not callable", field="func", value=func,
                              expected="a function or other callable")
        if callback is not None and not callable(callback):
            raise ConfigError("callback is not callable", field="callback", value=callback,
                              expected="a function or other callable, called with the result")
        queue = self._queue_name(queue_name)
        kwargs = {**(func_args or {}), **(func_kwargs or {})}
        check_arguments(func, args, kwargs, field="func_args" if kwargs else "args")
        if callback is not None:
            check_arguments(callback, (None,), callback_args or {}, field="callback_args")
        elif callback_args:
            raise ConfigError("callback_args without a callback", field="callback_args",
                              value=callback_args, expected="callback= too (it is called with "
                              "the result and these keyword arguments), or no callback_args")
        if not isinstance(priority, int) or isinstance(priority, bool) \
                or not -PRIORITY_LIMIT <= priority <= PRIORITY_LIMIT:
            # Bounded: every engine stores it in 32 bits (PostgreSQL's int column).
            raise ConfigError("bad priority", field="priority", value=priority,
                              expected=f"an int from {-PRIORITY_LIMIT} to {PRIORITY_LIMIT}")
        now = now or utcnow()
        if run_at is not None and run_in is not None:
            raise ConfigError("give run_at or run_in, not both", field="run_in", value=run_in)
        eta = aware(run_at, "run_at") if run_at is not None else now
        if run_in is not None:
            eta = now + timedelta(seconds=seconds(run_in, "run_in") or 0.0)
        # 0 means no limit, as it does for result_ttl and timeout (not "expired at once").
        ttl_s = seconds(ttl if ttl is not None else self._defaults["TASK_TTL"], "ttl") or None
        if max_retries is None:
            max_retries = self._defaults["RETRY_ATTEMPTS"]
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigError("bad max_retries", field="max_retries", value=max_retries,
                              expected="an int >= 0")
        defaults = self._defaults
        timeout_s = seconds(timeout if timeout is not None else defaults["TASK_TIMEOUT"],
                            "timeout")
        delay_s = seconds(retry_delay if retry_delay is not None else defaults["RETRY_DELAY"],
                          "retry_delay") or 0.0
        result_ttl_s = seconds(result_ttl if result_ttl is not None else defaults["RESULT_TTL"],
                               "result_ttl")
        parents = list(dict.fromkeys(depends_on or ()))
        deliveries = max_deliveries or defaults["MAX_DELIVERIES"]
        task_id = new_id() if task_id is None else validate_task_id(task_id)
        labels, trace = list(tags or ()), trace_context or None
        func_name, payload = self.serializer.dump_call(
            func, tuple(args), kwargs, callback=callback, callback_args=callback_args,
            binding=binding_values(task_id, queue, timeout_s, max_retries, delay_s, parents,
                                   deliveries, store_result, result_ttl_s, schedule_id,
                                   self.serializer.name_of(func), priority, name, description,
                                   labels, now, trace))
        return Task(id=task_id, func_name=func_name, payload=payload, queue_name=queue,
                    name=name, description=description, tags=labels,
                    priority=priority, created_at=now, run_at=eta,
                    expires_at=after(eta, ttl_s), result_ttl=result_ttl_s, depends_on=parents,
                    max_retries=max_retries, retry_delay=delay_s, timeout=timeout_s,
                    store_result=store_result, schedule_id=schedule_id,
                    max_deliveries=deliveries, trace_context=trace)

    def _queue_name(self, queue_name: str | None) -> str:
        if queue_name is None:
            return DEFAULT_QUEUE
        validate_name("queue", queue_name)
        if self.declared_queues and queue_name not in self.queues:
            raise ConfigError(
                f"queue {queue_name!r} is not one of this queue's declared queues",
                field="queue_name",
                value=queue_name,
                expected=f"one of {self.queues}, or add it to queues=[...]",
            )
        return queue_name

    # -- enqueue -------------------------------------------------------------------------------
    async def enqueue(self, func: Callable[..., Any], *args: Any, **options: Any) -> str:
        """Enqueue ``func(*args, **func_args, **func_kwargs)``; returns the task id.

        Options are those of :meth:`build_task`. With ``task_id`` of an existing task nothing
        is written and that id is returned. Raises ``BackendUnavailableError`` if the store
        cannot be reached (the task is then not stored; retrying with the same id is safe).
        """
        if options:
            check_task_options(self.build_task, options, func)
        if self.observer is not None:
            with self.observer.enqueuing() as carried:  # the write too is the enqueue's span
                task = self._task_of(func, args, {"trace_context": carried, **options})
                return (await self.enqueue_tasks([task]))[0]
        return (await self.enqueue_tasks([self._task_of(func, args, options)]))[0]

    def _task_of(self, func: Callable[..., Any], args: tuple[Any, ...],
                 options: dict[str, Any]) -> Task:
        try:
            return self.build_task(func, *args, **options)
        except ConfigError as exc:
            raise explain_missing_argument(exc, options) from None

    async def enqueue_many(
        self,
        func: Callable[..., Any],
        items: Iterable[tuple[Any, ...] | dict[str, Any] | Any],
        **options: Any,
    ) -> list[str]:
        """Enqueue one task per item in one round trip where the engine allows it.

        Each item is a tuple of positional arguments, a dict of keyword arguments, or a single
        argument. ``options`` apply to every task.
        """
        if isinstance(items, str | bytes):  # it would make a task per character
            raise ConfigError("enqueue_many got one string as its items", field="items",
                              value=items, expected=f"a list of items, one per task: "
                              f"[{items!r}] for one task with that argument")
        if not isinstance(items, Iterable):
            raise ConfigError("enqueue_many needs its items as an iterable", field="items",
                              value=items, expected="a list (or other iterable) of argument "
                              "tuples, keyword dicts or single arguments, one per task")
        if "task_id" in options:
            raise ConfigError("enqueue_many gives each task an id of its own", field="task_id",
                              value=options["task_id"], expected="no task_id: one id for every "
                              "item stored only the first; to choose ids, enqueue each task "
                              "with enqueue(..., task_id=...)")
        if options:
            check_task_options(self.build_task, options, func)
        if self.observer is not None:
            with self.observer.enqueuing() as carried:
                return await self._enqueue_items(func, items, {"trace_context": carried,
                                                               **options})
        return await self._enqueue_items(func, items, options)

    async def _enqueue_items(self, func: Callable[..., Any], items: Iterable[Any],
                             options: dict[str, Any]) -> list[str]:
        now = utcnow()

        def build(item: Any) -> Task:
            if isinstance(item, tuple):
                return self.build_task(func, *item, now=now, **options)
            if isinstance(item, dict):
                return self.build_task(func, func_args=item, now=now, **options)
            return self.build_task(func, item, now=now, **options)

        items = items if isinstance(items, Sequence) else list(items)
        if not can_overlap(items):
            return await self.enqueue_tasks([build(item) for item in items])
        return await build_while_writing(build, items, self._enqueue_chunk)

    async def enqueue_tasks(self, tasks: Sequence[Task]) -> list[str]:
        """Store built tasks, resolving their dependencies first; returns their ids."""
        return await self._enqueue_built(tasks)

    async def _enqueue_chunk(self, tasks: list[Task]) -> list[str]:
        return await self._enqueue_built(tasks, join=False)

    async def _enqueue_built(self, tasks: Sequence[Task], join: bool = True) -> list[str]:
        """What ``enqueue_tasks`` does; ``join``: see ``GroupWriter.add``."""
        await self.connect()
        with_deps = [t for t in tasks if t.depends_on]
        if with_deps:
            tasks = [await self._gate_on_parents(t) if t.depends_on else t for t in tasks]
        writing = utcnow()
        inserted = await self._writer.add(tasks, join=join)
        if self.observer is not None:
            self.observer.enqueued(tasks, inserted)
        for task, new in zip(tasks, inserted, strict=True):
            if new:
                self._emit(EventType.ENQUEUED if task.status != TaskStatus.WAITING
                           else EventType.WAITING, task, at=writing)
        for task, new in zip(tasks, inserted, strict=True):
            # A parent may have finished between the check and the insert: look again.
            if new and task.status == TaskStatus.WAITING:
                await self._settle_waiting(task)
        return [t.id for t in tasks]

    async def _gate_on_parents(self, task: Task) -> Task:
        parents = [await self.get_task(p) for p in task.depends_on]
        missing = [p for p, t in zip(task.depends_on, parents, strict=True) if t is None]
        if missing:
            raise TaskNotFoundError(
                f"depends_on names unknown task id(s) {missing}: enqueue the parents first"
            )
        if all(p.status == TaskStatus.COMPLETED for p in parents if p):
            return task
        return replace(task, status=TaskStatus.WAITING)

    # -- reading -------------------------------------------------------------------------------
    async def require_task(self, task_id: str) -> Task:
        task = await self.get_task(task_id)
        if task is None:
            raise TaskNotFoundError(f"no task with id {task_id!r} in project {self.project_name!r}")
        return task

    async def dead_letters(self, queue_name: str | None = None, limit: int = 100) -> list[Task]:
        """Tasks that failed for good (out of retries, poison pills, refused payloads)."""
        return await self.list_tasks(queue_name=queue_name, status=TaskStatus.FAILED, limit=limit)

    # -- changes from clients ------------------------------------------------------------------
    async def cancel(self, task_id: str, reason: str = "cancelled by request") -> CancelOutcome:
        """Cancel a task. A queued or waiting task is cancelled at once, with its dependents
        (``CANCELLED``); a running one is asked to stop (``REQUESTED``: its
        ``cancel_requested`` flag, which its worker acts on within about a second). Returns
        ``ALREADY_FINISHED``, which is false, if the task had already finished."""
        while True:
            task = await self.require_task(task_id)
            if task.status in FINISHED:
                return CancelOutcome.ALREADY_FINISHED
            if task.status == TaskStatus.RUNNING:
                if await self.update_task(replace(task, cancel_requested=True),
                                          expect_status={TaskStatus.RUNNING},
                                          expect_attempts=task.attempts):
                    return CancelOutcome.REQUESTED
                continue
            done = replace(task, status=TaskStatus.CANCELLED, finished_at=utcnow(),
                           error=ErrorInfo("Cancelled", reason))
            if await self.update_task(done, expect_status={task.status}):
                self._emit(EventType.CANCELLED, done, message=reason)
                await self.cancel_dependents(task_id, f"parent {task_id} was cancelled")
                return CancelOutcome.CANCELLED

    async def requeue(self, task_id: str, *, run_at: datetime | None = None) -> bool:
        """Put a dead-lettered (failed, cancelled or expired) task back in its queue."""
        task = await self.require_task(task_id)
        if task.status not in DEAD:
            return False
        now = utcnow()
        eta = aware(run_at, "run_at") if run_at else now
        ttl = (task.expires_at - task.run_at).total_seconds() if task.expires_at else None
        fresh = replace(task, status=TaskStatus.PENDING, run_at=eta, expires_at=after(eta, ttl),
                        retries=0, redeliveries=0, error=None, finished_at=None, worker_id=None,
                        lease_expires_at=None, cancel_requested=False)
        ok = await self.update_task(fresh, expect_status={task.status})
        if ok:  # stamped when the write began: a worker may run the task before it returns
            self._emit(EventType.REQUEUED, fresh, at=now)
        return ok

    # -- fenced transitions made by workers ----------------------------------------------------
    async def extend_lease(self, task: Task, lease: float) -> Task | None:
        """Push the lease of a running task forward; None if the attempt is no longer current."""
        return await self.renew_lease(task.id, task.attempts,
                                      utcnow() + timedelta(seconds=lease))

    async def extend_leases(self, leases: Sequence[tuple[Task, float]]) -> list[Task | None]:
        """:meth:`extend_lease` for each ``(task, lease)`` at once (a worker's heartbeat)."""
        now = utcnow()
        return await self.renew_leases([(task.id, task.attempts, now + timedelta(seconds=lease))
                                        for task, lease in leases])

    async def set_progress(self, task: Task, progress: Any) -> bool:
        """Record progress of a running task (shown by ``get_task``)."""
        msgspec.msgpack.encode(progress)  # progress must be plain data
        stored = await self.modify_running(task.id, task.attempts,
                                           lambda t: replace(t, progress=progress))
        if stored is not None:
            task.progress = progress
        return stored is not None

    def completed(self, task: Task, now: datetime) -> Task:
        return replace(task, status=TaskStatus.COMPLETED, finished_at=now, lease_expires_at=None,
                       error=None)

    def failed(self, task: Task, error: ErrorInfo, now: datetime,
               retry_at: datetime | None = None) -> Task:
        if retry_at is not None:
            return replace(task, status=TaskStatus.RETRYING, run_at=retry_at, error=error,
                           retries=task.retries + 1, lease_expires_at=None, worker_id=None)
        return replace(task, status=TaskStatus.FAILED, finished_at=now, error=error,
                       lease_expires_at=None)

    async def finish(self, updates: Sequence[tuple[Task, int]],
                     results: Sequence[ResultRecord | None] | None = None) -> list[bool]:
        """Write finished attempts (each fenced by the attempt it ran under) in one batch, with
        their results when :meth:`writes_results_for` the result store; then release or cancel
        the dependents of those that landed. Returns, per update, whether it landed; once the
        batch is written it does not raise (a retry would be fenced off by its own write)."""
        done = await self.finish_tasks(updates, results) if results else \
            await self.finish_tasks(updates)
        for (task, _), outcome in zip(updates, done, strict=True):
            if outcome == Finished.WRITTEN_WITH_DEPENDENTS:
                await self._settle_dependents_of(task)
            elif outcome == Finished.FENCED:
                logger.info("late result of task %s attempt %s dropped (fenced)", task.id,
                            task.attempts)
        return [outcome != Finished.FENCED for outcome in done]

    async def _settle_dependents_of(self, task: Task) -> None:
        """Release or cancel the dependents of a task just finished; what a failure leaves is
        settled by a worker's maintenance (:meth:`settle_waiting`)."""
        try:
            if task.status == TaskStatus.COMPLETED:
                await self.release_dependents(task.id)
            elif task.status in DEAD:
                await self.cancel_dependents(task.id, f"parent {task.id} {task.status.value}")
        except Exception as exc:
            logger.warning("dependents of task %s not settled yet (%s); a worker's "
                           "maintenance will", task.id, exc)

    async def release(self, task: Task) -> bool:
        """Give a claimed but unstarted task back at once (graceful stop)."""
        back = replace(task, status=TaskStatus.PENDING, worker_id=None, lease_expires_at=None,
                       started_at=None)
        return await self.update_task(back, expect_status={TaskStatus.RUNNING},
                                      expect_attempts=task.attempts)

    async def expire(self, task: Task, now: datetime) -> bool:
        """Mark a claimed task past its ttl as expired: it never runs."""
        gone = replace(task, status=TaskStatus.EXPIRED, finished_at=now, lease_expires_at=None,
                       error=ErrorInfo("Expired", f"ttl passed at {task.expires_at}"))
        ok = (await self.finish([(gone, task.attempts)]))[0]
        if ok:
            self._emit(EventType.EXPIRED, gone)
        return ok

    async def recover_leases(self, now: datetime | None = None, limit: int = 100, *,
                             running: Collection[tuple[str, int]] = ()) -> list[Task]:
        """Requeue running tasks whose worker died (lease expired); a task that has lost
        ``max_deliveries`` workers is a poison pill and is dead-lettered instead. ``running``
        are the ``(id, attempt)`` the calling worker is running itself: alive, whatever their
        lease says (its heartbeat is late), so never taken back by it."""
        now = now or utcnow()
        recovered = []
        for task in await self.expired_leases(now, limit + len(running)):
            if (task.id, task.attempts) in running:
                continue
            lost = task.redeliveries + 1
            if task.max_deliveries and lost >= task.max_deliveries:
                error = ErrorInfo("PoisonPill", f"worker lost {lost} times (max_deliveries)")
                new = replace(self.failed(task, error, now), redeliveries=lost)
            else:
                new = replace(task, status=TaskStatus.PENDING, redeliveries=lost,
                              worker_id=None, lease_expires_at=None)
            if (await self.finish([(new, task.attempts)]))[0]:
                self._emit(EventType.LEASE_EXPIRED, new, message=f"lease expired ({lost})")
                if new.status == TaskStatus.FAILED:
                    self._emit(EventType.DEAD_LETTER, new, message=new.error and new.error.message)
                recovered.append(new)
        return recovered

    # -- dependencies --------------------------------------------------------------------------
    async def release_dependents(self, parent_id: str) -> None:
        for child in await self.dependents(parent_id):
            if child.status == TaskStatus.WAITING:
                await self._settle_waiting(child)

    async def settle_waiting(self, offset: int = 0, limit: int = 100) -> int:
        """Release or cancel the ``limit`` waiting tasks from ``offset`` (id order) whose
        parents have all finished (a failure right after the last one left them waiting);
        returns how many it looked at."""
        waiting = await self.list_tasks(status=TaskStatus.WAITING, limit=limit, offset=offset)
        for child in waiting:
            await self._settle_waiting(child)
        return len(waiting)

    async def _settle_waiting(self, child: Task) -> None:
        parents = [await self.get_task(p) for p in child.depends_on]
        statuses = {p.status if p else TaskStatus.CANCELLED for p in parents}
        dead = [f"parent {parent_id} {parent.status.value if parent else 'was deleted'}"
                for parent_id, parent in zip(child.depends_on, parents, strict=True)
                if parent is None or parent.status in DEAD]
        if dead:
            await self._cancel_child(child, dead[0])
        elif statuses == {TaskStatus.COMPLETED}:
            ready, releasing = replace(child, status=TaskStatus.PENDING), utcnow()
            if await self.update_task(ready, expect_status={TaskStatus.WAITING}):
                self._emit(EventType.ENQUEUED, ready, message="dependencies completed",
                           at=releasing)

    async def cancel_dependents(self, parent_id: str, reason: str) -> None:
        for child in await self.dependents(parent_id):
            if child.status in RUNNABLE or child.status == TaskStatus.WAITING:
                await self._cancel_child(child, reason)

    async def _cancel_child(self, child: Task, reason: str) -> None:
        gone = replace(child, status=TaskStatus.CANCELLED, finished_at=utcnow(),
                       error=ErrorInfo("DependencyFailed", reason))
        if await self.update_task(gone, expect_status={child.status}):
            self._emit(EventType.CANCELLED, gone, message=reason)
            await self.cancel_dependents(child.id, f"parent {child.id} was cancelled")

    # -- the worker registry -------------------------------------------------------------------
    async def prune_workers(self, before: datetime, now: datetime | None = None) -> int:
        """Remove the records of workers last heard from before ``before`` (they died without
        a clean stop), and of workers that stopped cleanly before the recent minutes whose
        counts ``omniq status`` shows; returns how many. A worker pruned by mistake (its
        heartbeat landed between the read and the removal) stores its record again at its
        next heartbeat."""
        counted_from = recent_window(now or utcnow())
        gone = [w.id for w in await self.list_workers() if w.last_heartbeat < before
                or (w.stopped_at is not None and w.stopped_at < counted_from)]
        return await self.delete_workers(gone) if gone else 0

    # -- events --------------------------------------------------------------------------------
    def _emit(self, type_: EventType, task: Task, **fields: Any) -> None:
        if self.event_logger is not None:
            self.event_logger.task_event(type_, task, **fields)


# What a backend may not override: everything AsyncTaskQueue and its scheduling add on top of
# the storage interface and the component plumbing.
_LIFECYCLE = frozenset(
    name for klass in (AsyncTaskQueue, SchedulingMixin, InspectionMixin) for name in vars(klass)
    if not name.startswith("__") and not hasattr(TaskQueueContract, name)
    and not hasattr(AsyncComponent, name)) - {"kind"}
