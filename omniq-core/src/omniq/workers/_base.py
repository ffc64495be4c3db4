"""The worker: one async core loop, with an execution strategy per worker type.

The loop claims tasks for its free slots (several per round trip), runs each through the
strategy, writes results and completions in batches, renews leases and looks for cancel
requests from the event loop (which task code never holds), fires due schedules, recovers
expired leases, and backs off when the store fails. docs/user_guide/writing_a_worker_type.qmd
states what a worker type's four methods must do.
"""

from __future__ import annotations

import abc
import asyncio
import collections
import logging
import os
import random
import socket
import traceback
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, ClassVar

import anyio

from .._component import AsyncComponent, location_of
from .._ids import new_id
from .._sync import as_async
from .._time import utcnow
from ..config import get_setting
from ..contract import ResultRecord
from ..events import EventLogger
from ..exceptions import ConfigError, SerializationError, TaskCancelledError, TaskTimeoutError
from ..models import UNREADABLE, ErrorInfo, EventType, Task, TaskResult, TaskStatus, binding
from ..observe import enable
from ..queue._base import DEFAULT_QUEUE
from ..serialization import Call
from . import _at_exit
from ._completions import Completer
from ._context import TaskContext, _current
from ._labels import backend_label
from ._registry import PRUNE_AFTER, Registration

logger = logging.getLogger("omniq.worker")

#: What happens to each task: claims and completions at DEBUG, retries, expiries, timeouts and
#: cancellations at INFO, dead letters and poison pills at WARNING.
task_log = logging.getLogger("omniq.worker.tasks")
RETRY_CAP = 3600.0  # seconds: the longest backoff between two attempts
PURGE_INTERVAL = 60.0  # seconds between sweeps of expired results, old events and waiting tasks
SWEEP_PAGE = 100  # waiting tasks looked at per sweep
#: Seconds from a task finishing to the worker's registry record counting it (one small write
#: per this many seconds at most while tasks keep finishing; the heartbeat otherwise).
REGISTRY_DELAY = 0.5
#: Seconds between looks for cancel requests of the tasks running here. Only while tasks run,
#: and only when heartbeats (every third of the lease) come less often than this.
CANCEL_CHECK_INTERVAL = 0.5


class PoolClosed(Exception):
    """Raised by ``execute`` when the pool that runs tasks takes no more (the interpreter is
    exiting and shut it down): the task is given back unstarted, not failed."""


async def nap(seconds: float) -> None:
    """Sleep between rounds of a background loop, unless this task was asked to stop.

    A driver can swallow a cancellation: Python 3.11's ``asyncio.wait_for`` loses one that
    races with its own timeout, and nats-py requests use it. A loop that caught the driver's
    error would then go round forever, so the request, still counted on the task, is
    honoured here.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
    await anyio.sleep(seconds)


def retry_delay(task: Task) -> float:
    """Exponential backoff with full jitter over the upper half, capped."""
    if task.retry_delay <= 0:
        return 0.0
    delay = min(RETRY_CAP, task.retry_delay * 2 ** task.retries)
    return delay * random.uniform(0.5, 1.0)


def error_info(exc: BaseException) -> ErrorInfo:
    remote = getattr(exc, "info", None)
    if isinstance(remote, ErrorInfo):  # raised in a child process; keep the remote error
        return remote
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return ErrorInfo(type(exc).__qualname__, str(exc), tb)


class AsyncWorkerBase(AsyncComponent, abc.ABC):
    """Runs tasks from a task queue; a worker type implements the four abstract methods.

    Args:
        queue: The task queue (``task_queue=`` is accepted too).
        result_store: Where results go; None: the queue's own engine's result store (its
            ``default_result_store()``), or no results if it has none.
        event_store: Where lifecycle events go; None turns events off.
        queues: Queue names to serve, in priority order (default: the queue's own).
        max_workers: How many tasks run at once.
        lease: Seconds a claim lasts before another worker may take the task; renewed every
            third of it while the task runs.
        poll_interval: Longest idle wait before looking again (default: ``POLL_INTERVAL``, or
            the maintenance interval on engines that push every wake-up).
        grace_period: Seconds a graceful stop waits for running tasks.
        scheduler: Whether this worker also fires due schedules.
        maintenance_interval: Seconds between lease recovery and schedule checks.
        metrics_port: Serve Prometheus metrics on this port (0: any free one; see
            ``metrics_address``); default ``OMNIQ_METRICS_PORT``, None: off.
        metrics_host: The address metrics are served on (default ``OMNIQ_METRICS_HOST``,
            127.0.0.1).
        batch_size: The most tasks one claim takes (never more than free slots).
        worker_id: This worker's id in the registry and in events (default:
            ``host:pid:random``).
    """

    kind = "worker"
    worker_type = "base"
    #: A module whose ``python -m`` form runs the ``omniq`` command with this worker type's
    #: process set-up done before anything else is imported; ``omniq worker`` runs itself
    #: again under it (gevent must monkey-patch before ``ssl`` and the drivers are imported).
    command_module: ClassVar[str | None] = None

    def __init__(self, queue: Any = None, result_store: Any = None, event_store: Any = None, *,
                 task_queue: Any = None, queues: Sequence[str] | None = None,
                 max_workers: int | None = None, lease: float | None = None,
                 poll_interval: float | None = None, grace_period: float = 30.0,
                 scheduler: bool = True, maintenance_interval: float | None = None,
                 batch_size: int = 100, worker_id: str | None = None,
                 metrics_port: int | None = None, metrics_host: str | None = None) -> None:
        queue = as_async(queue if queue is not None else task_queue)
        if queue is None:
            raise ConfigError("a worker needs a task queue", field="queue", value=None,
                              expected="a task queue, e.g. SQLiteTaskQueue(...)")
        super().__init__(project_name=queue.project_name)
        self.queue = queue
        self.serializer = queue.serializer
        self.result_store = as_async(result_store) if result_store is not None \
            else queue.default_result_store()
        self.event_store = as_async(event_store)
        if isinstance(queues, str):  # names separated by commas, as OMNIQ_QUEUES takes them
            queues = [q.strip() for q in queues.split(",") if q.strip()]
        names = list(queues) if queues else list(queue.queues)
        # Then ``default`` unless listed: a task enqueued without a queue is never stranded.
        self.queues = names if DEFAULT_QUEUE in names else [*names, DEFAULT_QUEUE]
        self.max_workers = int(self._default_concurrency() if max_workers is None
                               else max_workers)
        if self.max_workers < 1:
            raise ConfigError("max_workers must be >= 1", field="max_workers", value=max_workers)
        self.lease = float(lease or get_setting("LEASE_SECONDS"))
        self.grace_period = grace_period
        self.scheduler = scheduler
        self.maintenance_interval = maintenance_interval or min(1.0, self.lease / 3)
        self.poll_interval = float(poll_interval or (
            self.maintenance_interval if queue.pushes_work else get_setting("POLL_INTERVAL")))
        self.batch_size = batch_size
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{new_id()[-8:]}"
        self.events = EventLogger(self.event_store, worker_id=self.worker_id)
        self._running: dict[str, tuple[Task, TaskContext, asyncio.Task[Any]]] = {}
        # The ids of claimed tasks still executing. A task leaves it when its outcome is handed
        # to the completer, so the next claim overlaps the completion write instead of
        # following it; it stays in ``_running`` (leased, heartbeated) until that write lands.
        self._executing: set[str] = set()
        # Claimed tasks whose last delivery died with its worker (a crash, or a poison pill
        # beside them): each runs alone, so only a task that really kills workers uses up its
        # deliveries; no more is claimed while any waits or runs.
        self._suspects: set[str] = set()
        self._clearing = False  # a suspect was given back: claim again once nothing is held
        self._idle: asyncio.Event | None = None
        self._stopping = False
        self._main: asyncio.Task[None] | None = None
        self._helpers: list[asyncio.Task[None]] = []
        self._slot_freed: asyncio.Event | None = None
        self._completer: Completer | None = None
        self._store_down = False
        self.metrics_port = metrics_port if metrics_port is not None \
            else get_setting("METRICS_PORT")
        self.metrics_host = metrics_host or get_setting("METRICS_HOST")
        self._metrics_server: asyncio.Server | None = None
        self._pool_started = False
        if self.metrics_port is not None:
            enable(queue, metrics=True)
        #: Seconds between two refreshes of this worker's record in the worker registry.
        self.heartbeat_interval = float(get_setting("WORKER_HEARTBEAT"))
        self._registration: Registration | None = None
        #: How long the last heartbeat rounds took (seconds), the newest last.
        self._rounds: collections.deque[float] = collections.deque([0.0], maxlen=10)

    def _default_concurrency(self) -> int:
        return int(get_setting("MAX_WORKERS"))

    # -- extension points: what a worker type implements ----------------------------------------
    # (docs/user_guide/writing_a_worker_type.qmd)
    @abc.abstractmethod
    async def start_pool(self) -> None:
        """Create what runs task code (threads, processes, a hub), before the first claim."""

    @abc.abstractmethod
    async def stop_pool(self) -> None:
        """Tear down what :meth:`start_pool` made, without waiting for task code still running."""

    @abc.abstractmethod
    async def execute(self, call: Call, task: Task, ctx: TaskContext) -> Any:
        """Run ``call`` (perhaps a coroutine function) where it cannot block the event loop,
        with ``ctx`` as its ``current_task()``; return its value or raise what it raised. Let
        the ``CancelledError`` of a timeout or cancel request through."""

    @abc.abstractmethod
    async def cancel_running(self, task_id: str) -> str:
        """Stop the running task as far as this type can, promptly; return a few words saying
        how (``"its process was killed"``) for the log and the task's stored error."""

    # -- lifecycle -----------------------------------------------------------------------------
    async def _connect(self) -> None:
        if self.metrics_port is not None:  # first: a port in use fails the start, nothing runs
            from ..observe.metrics import serve

            self._metrics_server = await serve(self.queue, self.queues, self.metrics_host,
                                               self.metrics_port)
        await self.queue.connect()
        if self.result_store is not None:
            await self.result_store.connect()
        if self.event_store is not None:
            await self.event_store.connect()
        if self.queue.event_logger is None:
            self.queue.event_logger = self.events
        await self.events.start()
        await self.start_pool()
        self._pool_started = True
        self._stopping = False
        self._slot_freed = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._completer = Completer(self.queue, self.result_store)
        await self._completer.start()
        self._registration = Registration(self.worker_id, self.worker_type, self.max_workers,
                                          self.queues, utcnow(), self.heartbeat_interval)
        self._counted = asyncio.Event()  # tasks finished since the record was last stored
        await self._register()
        loop = asyncio.get_running_loop()
        self._main = loop.create_task(self._claim_loop(), name=f"omniq-worker-{self.worker_id}")
        _at_exit.running.add(self)
        self._helpers = [loop.create_task(self._heartbeat_loop(), name="omniq-heartbeat"),
                         loop.create_task(self._maintenance_loop(), name="omniq-maintenance"),
                         loop.create_task(self._registry_loop(), name="omniq-registry")]
        if self.lease / 3 > CANCEL_CHECK_INTERVAL:  # heartbeats alone would notice too late
            self._helpers.append(loop.create_task(self._cancel_watch_loop(),
                                                  name="omniq-cancel-watch"))
        events = "events off (no event store configured)" if self.events.store is None \
            else f"events to {backend_label(self.events.store)}"
        logger.info("worker %s started: backend %s at %s, project %s, queues %s, "
                    "worker type %s, concurrency %d, %s", self.worker_id,
                    backend_label(self.queue), location_of(self.queue), self.project_name,
                    ", ".join(self.queues), self.worker_type, self.max_workers, events)

    async def start(self) -> None:
        """Start working in the background of the running event loop."""
        await self.connect()

    async def stop(self, timeout: float | None = None) -> None:
        """Stop gracefully: claim nothing more, let running tasks finish for ``timeout``
        (default ``grace_period``) seconds, put back what did not finish, flush events."""
        if timeout is not None:
            self.grace_period = timeout
        await self.close()

    async def run(self) -> None:
        """Start and work until cancelled (the CLI's foreground mode)."""
        await self.start()
        try:
            assert self._main is not None
            await asyncio.shield(self._main)
        finally:
            await self.stop()

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        """``(host, port)`` metrics are served on while the worker runs, else None."""
        if self._metrics_server is None:
            return None
        host, port = self._metrics_server.sockets[0].getsockname()[:2]
        return host, port

    @property
    def is_running(self) -> bool:
        return self._main is not None and not self._main.done()

    async def _close(self) -> None:
        _at_exit.running.discard(self)
        self._stopping = True
        if self._slot_freed is not None:
            self._slot_freed.set()
        if self._main is not None:
            self._main.cancel()
            await asyncio.gather(self._main, return_exceptions=True)
        if self._running:
            handlers = [entry[2] for entry in self._running.values()]
            _, pending = await asyncio.wait(handlers, timeout=self.grace_period)
            for task_id in list(self._running):
                task, ctx, handler = self._running[task_id]
                if handler in pending:
                    task_log.warning("task %s (%s, queue %s, attempt %d) still running after "
                                     "the grace period of %g s: stopped and put back; it will "
                                     "run again from the start", task.id, task.func_name,
                                     task.queue_name, task.attempts, self.grace_period)
                    ctx._cancelled.set()
                    handler.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        for helper in self._helpers:
            helper.cancel()
        # Bounded: a driver that swallows a cancellation must not hang the stop.
        _, stuck = await asyncio.wait(self._helpers, timeout=5) if self._helpers else ((), ())
        if stuck:
            logger.warning("worker %s: %d background task(s) ignored cancellation",
                           self.worker_id, len(stuck))
        if self._completer is not None:
            await self._completer.stop()
        await self._unregister()
        if self._pool_started:  # a start that failed earlier left no pool to stop
            self._pool_started = False
            await self.stop_pool()
        if self._metrics_server is not None:
            self._metrics_server.close()
            self._metrics_server = None
        await self.events.stop()
        if self.queue.event_logger is self.events:
            self.queue.event_logger = None
        self._main = None
        logger.info("worker %s stopped: worker type %s, project %s", self.worker_id,
                    self.worker_type, self.project_name)

    # -- results for callers (seed: worker.get_result(task_id)) --------------------------------
    async def get_result(self, task_id: str, timeout: float | None = None) -> Any:
        """Wait for a task's result and return its value (raises ``TaskFailedError``)."""
        from .._results import wait_for_value

        return await wait_for_value(self.queue, self.result_store, task_id, timeout)

    # -- the loops -----------------------------------------------------------------------------
    async def _claim_loop(self) -> None:
        assert self._slot_freed is not None
        failures = 0
        drained = False
        while not self._stopping:
            # Completions in flight are bounded too: at most one more round of slots.
            free = min(self.max_workers - len(self._executing),
                       2 * self.max_workers - len(self._running))
            if free <= 0 or self._suspects or (self._clearing and self._running):
                self._slot_freed.clear()
                await self._slot_freed.wait()
                continue
            self._clearing = False
            limit = min(free, self.batch_size)
            try:
                tasks = await self._claim(drained, limit)
            except Exception as exc:
                failures += 1
                await self._store_failed(exc, failures)
                continue
            if failures:
                failures = 0
                self._store_recovered()
            if self.queue.observer is not None and tasks:
                self.queue.observer.claimed(tasks)
            loop = asyncio.get_running_loop()
            for task in await self._one_suspect_at_most(tasks):
                task_log.debug("claimed task %s (%s, queue %s, attempt %d)", task.id,
                               task.func_name, task.queue_name, task.attempts)
                ctx = TaskContext(task, self, loop)
                if task.redeliveries:
                    self._suspects.add(task.id)  # it starts when it can run alone
                else:
                    self._executing.add(task.id)
                handler = loop.create_task(self._handle(task, ctx))
                self._running[task.id] = (task, ctx, handler)
            # Fewer than asked: wait before the next claim rather than ask again at once (an
            # empty claim would also hold the connection the completions use).
            drained = len(tasks) < limit

    async def _claim(self, drained: bool, limit: int) -> list[Task]:
        """Claim up to ``limit`` tasks. A stop does not cut a claim short: the store may have
        leased the tasks to this worker already, so the claim is awaited and what it took is
        given back at once, not left to wait for its lease."""
        if drained:  # the queues had no more ready: wait for a wake-up, then claim
            call = self.queue.claim_when_ready(self.queues, worker_id=self.worker_id,
                                               lease=self.lease, limit=limit,
                                               timeout=self.poll_interval)
        else:
            call = self.queue.claim(self.queues, worker_id=self.worker_id, lease=self.lease,
                                    now=utcnow(), limit=limit)
        claim = asyncio.ensure_future(call)
        try:
            return await asyncio.shield(claim)
        except asyncio.CancelledError:
            try:
                for task in await claim:
                    await self.queue.release(task)
            except Exception as exc:  # left to its lease, as a crash would leave it
                logger.warning("worker %s: could not give back a claim cut short by the stop: "
                               "%s", self.worker_id, exc)
            raise

    async def _store_failed(self, exc: Exception, failures: int) -> None:
        """Circuit breaker: back off exponentially, log once per state change."""
        if not self._store_down:
            self._store_down = True
            logger.warning("worker %s: store unavailable (%s); backing off", self.worker_id,
                           exc)
        delay = min(30.0, 0.05 * 2 ** min(failures, 10)) * random.uniform(0.5, 1.0)
        await anyio.sleep(delay)

    def _store_recovered(self) -> None:
        if self._store_down:
            self._store_down = False
            logger.warning("worker %s: store reachable again", self.worker_id)

    # -- the worker registry -------------------------------------------------------------------
    async def _register(self) -> None:
        """Store this worker's record, brought up to date. The registry only shows workers:
        failing to write it is logged, never a reason to stop working."""
        assert self._registration is not None
        record = self._registration.refreshed(utcnow(), len(self._running))
        try:
            await self.queue.put_worker(record)
        except Exception as exc:
            logger.debug("worker %s: registry refresh failed: %s", self.worker_id, exc)

    async def _unregister(self) -> None:
        """Marks the record stopped rather than removing it: the tasks this worker finished
        keep counting in ``omniq status`` until maintenance prunes it."""
        if self._registration is None:
            return
        record, self._registration = self._registration.stopped(utcnow()), None
        try:
            await self.queue.put_worker(record)
        except Exception as exc:  # shown as gone, then pruned an hour after its last heartbeat
            logger.warning("worker %s: could not mark its registry record stopped: %s",
                           self.worker_id, exc)

    async def _registry_loop(self) -> None:
        # Every heartbeat, and soon after tasks finish, so that `omniq status` shows tasks
        # just done rather than a heartbeat later (at most REGISTRY_DELAY apart meanwhile).
        while True:
            with anyio.move_on_after(self.heartbeat_interval):
                await self._counted.wait()
                await nap(min(REGISTRY_DELAY, self.heartbeat_interval))
            self._counted.clear()
            await self._register()

    def _count(self, task: Task, *, ok: bool) -> None:
        if self._registration is not None:
            self._registration.finished(task.queue_name, utcnow(), ok=ok)
            self._counted.set()

    async def _heartbeat_loop(self) -> None:
        # Rounds start every third of the lease, however long the last one took (a slow
        # round followed by a full third of a lease of sleep let short leases run out).
        due = anyio.current_time()
        while True:
            now = anyio.current_time()
            due = max(due + self.lease / 3, now)
            await nap(due - now)
            await self.heartbeat()

    async def heartbeat(self) -> None:
        """Renew the lease of every task this worker holds, once (the base does so every third
        of the lease), and act on the answers: a refused renewal (another attempt owns the task
        now) abandons this attempt; a cancel request stored with the task stops it.

        The renewals go out as one batch (one transaction where the engine allows), and each
        lease is at least three times the slowest of the last rounds: beside CPU-bound threads
        holding the GIL, a round can take longer than a short lease, and a worker that is slow
        but alive must not lose its tasks to its own heartbeat."""
        held = list(self._running.items())
        if not held:
            return
        floor = 3 * max(self._rounds)
        leases: list[tuple[Task, float]] = []
        for _, (_, ctx, _) in held:  # (a later expiry the task asked for is kept by the store)
            leases.append((ctx.task, max(self._lease_for(ctx.task), floor)))
        began = anyio.current_time()
        try:
            answers = await self.queue.extend_leases(leases)
        except Exception as exc:  # the store is down: the next round tries again
            logger.debug("heartbeat failed: %s", exc)
            return
        self._rounds.append(anyio.current_time() - began)
        for (task_id, (_, ctx, handler)), renewed in zip(held, answers, strict=True):
            if task_id not in self._executing:
                # Its outcome is with the completer: a refusal means the finish has
                # landed (or will be fenced off there), and a cancel request came too late.
                continue
            if renewed is None:  # fenced: another attempt owns the task now
                logger.warning("lease of task %s lost; abandoning this attempt", task_id)
                ctx._cancelled.set()
                handler.cancel()
            elif renewed.cancel_requested and not ctx.cancelled:
                await self._stop_cancelled(renewed, ctx, handler)
            else:
                ctx.task = renewed

    async def _cancel_watch_loop(self) -> None:
        """Read the cancel requests of the tasks executing here (none while nothing runs), so
        one reaches its task within about ``CANCEL_CHECK_INTERVAL`` seconds, not a third of
        the lease."""
        while True:
            await nap(CANCEL_CHECK_INTERVAL)
            executing = [(task_id, self._running[task_id]) for task_id in list(self._executing)
                         if task_id in self._running]
            if not executing:
                continue
            try:
                stored = await asyncio.gather(
                    *(self.queue.get_task(task_id) for task_id, _ in executing))
            except Exception as exc:
                logger.debug("looking for cancel requests failed: %s", exc)
                continue
            for (task_id, (_, ctx, handler)), now in zip(executing, stored, strict=True):
                if (now is not None and now.cancel_requested and task_id in self._executing
                        and now.status == TaskStatus.RUNNING
                        and now.attempts == ctx.task.attempts):
                    await self._stop_cancelled(now, ctx, handler)

    async def _stop_cancelled(self, stored: Task, ctx: TaskContext,
                              handler: asyncio.Task[Any]) -> None:
        """Stop a task whose cancel was requested: the strategy stops its code, the base
        cancels the coroutine awaiting it and records it as cancelled."""
        if ctx.cancelled:
            return
        ctx._cancelled.set()
        ctx.task = stored
        ctx._cancelled_how = await self.cancel_running(stored.id)
        task_log.info("task %s (%s, queue %s, attempt %d) cancelled by request: %s",
                      stored.id, stored.func_name, stored.queue_name, stored.attempts,
                      ctx._cancelled_how)
        if stored.id in self._executing:  # not finished meanwhile (its outcome would stand)
            handler.cancel()

    async def _maintenance_loop(self) -> None:
        failures = 0
        last_purge = 0.0
        waiting_cursor = 0  # the sweep of waiting tasks goes through them a page a time
        while True:
            await nap(self.maintenance_interval)
            try:
                running = {(task_id, ctx.task.attempts)
                           for task_id, (_, ctx, _) in self._running.items()}
                self._log_recovered(await self.queue.recover_leases(running=running))
                if self.scheduler:
                    await self.queue.fire_due_schedules()
                if anyio.current_time() - last_purge > PURGE_INTERVAL:
                    last_purge = anyio.current_time()
                    await self._purge()
                    seen = await self.queue.settle_waiting(waiting_cursor, SWEEP_PAGE)
                    waiting_cursor = waiting_cursor + seen if seen == SWEEP_PAGE else 0
                failures = 0
            except Exception as exc:
                failures += 1
                if failures == 1:
                    logger.warning("maintenance failed: %s", exc)
                await nap(min(30.0, 0.1 * 2 ** min(failures, 8)))

    def _log_recovered(self, recovered: Sequence[Task]) -> None:
        for task in recovered:
            if task.status == TaskStatus.FAILED:
                if self.queue.observer is not None:
                    self.queue.observer.finished(task, None)
                task_log.warning("task %s (%s, queue %s, attempt %d) dead-lettered as a poison "
                                 "pill: %s", task.id, task.func_name, task.queue_name,
                                 task.attempts, task.error.message if task.error else "")
            else:
                task_log.info("task %s (%s, queue %s, attempt %d) lost its worker (lease "
                              "expired %d time(s)); queued again", task.id, task.func_name,
                              task.queue_name, task.attempts, task.redeliveries)

    async def _purge(self) -> None:
        """Drop expired results (engines without native expiry) and events past retention."""
        now = utcnow()
        if self.result_store is not None:
            await self.result_store.purge(now)
        retention = get_setting("EVENT_RETENTION")
        if self.event_store is not None and retention:
            await self.event_store.purge(now - timedelta(seconds=retention))
        await self.queue.prune_workers(now - timedelta(seconds=PRUNE_AFTER))

    def _lease_for(self, task: Task) -> float:
        return max(self.lease, (task.timeout or 0) * 1.5 + 1)

    # -- one task ------------------------------------------------------------------------------
    async def _handle(self, task: Task, ctx: TaskContext) -> None:
        try:
            if task.id in self._suspects:
                await self._alone(task, ctx)
            else:
                await self._process(task, ctx)
        except asyncio.CancelledError:
            if self._stopping or not ctx.cancelled or not ctx.task.cancel_requested:
                raise
            # Cancelled by request before its code started (its lease was being extended):
            # finish it here, or it would stay running until its lease ran out.
            await self._finish_failed(ctx.task, ErrorInfo("Cancelled", "cancelled by request "
                                                          "before it started"), utcnow(),
                                      status=TaskStatus.CANCELLED)
        except Exception:
            logger.exception("worker %s: unexpected error handling task %s", self.worker_id,
                             task.id)
        finally:
            self._running.pop(task.id, None)
            self._free_slot(task.id)

    async def _one_suspect_at_most(self, tasks: list[Task]) -> list[Task]:
        """What of a claim to keep, given its suspects (tasks whose last delivery died with
        their worker). A suspect is kept only by a worker that holds nothing else, and then
        alone: the rest of the claim goes back at once. Held beside other tasks it would be
        charged a delivery it never ran if one of them killed this worker (a fresh poison
        pill), and dead-lettered after enough of them. A busy worker gives every suspect back
        and claims nothing more until what it holds is done, then claims again, alone."""
        suspects = [t for t in tasks if t.redeliveries]
        if not suspects:
            return tasks
        keep = suspects[0] if not self._running and not self._suspects else None
        if keep is None:
            self._clearing = True
        for task in tasks:
            if task is not keep and (keep is not None or task.redeliveries):
                await self.queue.release(task)
        if keep is not None:
            return [keep]
        return [t for t in tasks if not t.redeliveries]

    async def _alone(self, task: Task, ctx: TaskContext) -> None:
        """Run a task whose last delivery died with its worker once nothing else runs here,
        and nothing beside it: if it kills this worker too, it takes no bystander along."""
        assert self._idle is not None and self._slot_freed is not None
        try:
            while self._executing or (sorted(self._suspects)[0] != task.id):
                if self._stopping:  # never started: back at once, as prefetched tasks go
                    await self.queue.release(task)
                    return
                self._idle.clear()
                await self._idle.wait()
            # Held while others ran, its lease may have run out (heartbeats fail while the
            # store is away) and another worker may hold it now: renew first, run only if ours.
            renewed = await self.queue.extend_lease(ctx.task, self._lease_for(ctx.task))
            if renewed is None:
                task_log.warning("task %s (%s, queue %s): lease lost while it waited to run "
                                 "alone; not run here", task.id, task.func_name,
                                 task.queue_name)
                return
            ctx.task = renewed
            task_log.info("task %s (%s, queue %s) lost its worker %d time(s): running it "
                          "alone", task.id, task.func_name, task.queue_name, task.redeliveries)
            self._executing.add(task.id)
            await self._process(task, ctx)
        finally:
            self._suspects.discard(task.id)
            self._idle.set()
            self._slot_freed.set()

    def _free_slot(self, task_id: str) -> None:
        self._executing.discard(task_id)
        assert self._slot_freed is not None and self._idle is not None
        self._slot_freed.set()
        if not self._executing:
            self._idle.set()

    async def _complete(self, task: Task, attempt: int, result: ResultRecord | None) -> bool:
        """Hand a finished attempt to the completer, freeing its slot; True if it landed."""
        self._free_slot(task.id)
        assert self._completer is not None
        observer = self.queue.observer
        if observer is None:
            return await self._completer.submit(task, attempt, result)
        handed_over = utcnow()
        landed = await self._completer.submit(task, attempt, result)
        if landed:
            observer.finished(task, handed_over)
        return landed

    async def _process(self, task: Task, ctx: TaskContext) -> None:
        now = utcnow()
        if task.expires_at is not None and task.expires_at <= now:
            if await self.queue.expire(task, now):
                task_log.info("task %s (%s, queue %s) expired before it ran (ttl passed at %s)",
                              task.id, task.func_name, task.queue_name, task.expires_at)
            return
        if self._stopping:
            await self.queue.release(task)
            return
        try:
            if task.func_name == UNREADABLE:
                raise SerializationError(task.error.message if task.error else UNREADABLE)
            call = self.serializer.load_call(task.payload, binding(task.id, task))
        except SerializationError as exc:
            await self._refuse(task, exc)
            return
        if task.timeout and task.timeout * 1.5 + 1 > self.lease:
            renewed = await self.queue.extend_lease(task, self._lease_for(task))
            if renewed is None:
                return
            ctx.task = task = renewed
        self.events.task_event(EventType.EXECUTING, task)
        started = utcnow()
        token = _current.set(ctx)
        deadline = asyncio.timeout(task.timeout or None)
        try:
            async with deadline:
                if self.queue.observer is None:
                    value = await self.execute(call, task, ctx)
                else:
                    with self.queue.observer.executing(task):
                        value = await self.execute(call, task, ctx)
        except asyncio.CancelledError:
            if self._stopping and not ctx.cancelled:
                raise
            if ctx.cancelled and ctx.task.cancel_requested:
                how = f": {ctx._cancelled_how}" if ctx._cancelled_how else ""
                await self._finish_failed(ctx.task,
                                          ErrorInfo("Cancelled", f"cancelled by request{how}"),
                                          started, status=TaskStatus.CANCELLED)
            elif self._stopping:
                # ctx.task, not task: it carries the renewed lease and progress written since.
                await self.queue.release(ctx.task)
            return
        except TimeoutError as exc:
            if not deadline.expired():  # the task's own TimeoutError: an ordinary failure
                await self._failed(ctx.task, error_info(exc), started)
                return
            how = await self.cancel_running(task.id)
            overran = TaskTimeoutError(f"task {task.id} ran longer than its timeout "
                                       f"of {task.timeout} s")
            task_log.info("task %s (%s, queue %s, attempt %d) timed out after %s s: %s",
                          task.id, task.func_name, task.queue_name, task.attempts,
                          task.timeout, how)
            self.events.task_event(EventType.TIMEOUT, task, message=str(overran))
            await self._failed(ctx.task, error_info(overran), started)
            return
        except TaskCancelledError as exc:
            await self._finish_failed(ctx.task, ErrorInfo("Cancelled", exc.reason or str(exc)),
                                      started, status=TaskStatus.CANCELLED)
            return
        except PoolClosed:
            self._stopping = True  # claim nothing more: the stop at exit follows
            await self.queue.release(ctx.task)
            return
        except BaseException as exc:
            # SystemExit (sys.exit in the task) and KeyboardInterrupt too: raised by the
            # task's code (signals reach the worker through its own handlers), they end the
            # task, not the worker, which would otherwise die without a word and take every
            # task it held along, again at each redelivery.
            await self._failed(ctx.task, error_info(exc), started)
            return
        finally:
            _current.reset(token)
        await self._succeeded(ctx.task, call, value, started)

    async def _refuse(self, task: Task, exc: Exception) -> None:
        """A payload that fails its signature (or cannot be decoded) is never run."""
        logger.error("task %s refused: %s", task.id, exc)
        error = ErrorInfo(type(exc).__qualname__, str(exc))
        self.events.task_event(EventType.REJECTED, task, message=str(exc))
        await self._finish_failed(task, error, utcnow())

    async def _succeeded(self, task: Task, call: Call, value: Any, started: Any) -> None:
        now = utcnow()
        done = self.queue.completed(task, now)
        try:
            result = self._result(done, started, now, value=value) if task.store_result else None
            limit = self.result_store.blob_size_limit if self.result_store else None
            if result is not None and limit is not None and len(result.blob) > limit:
                raise SerializationError(
                    f"it is {len(result.blob):,} bytes encoded, more than the {limit:,} the "
                    "result store takes; return a reference to the data (a path, a URL, a "
                    "key) rather than the data, or raise the store's limit")
        except Exception as exc:  # a value that cannot be stored (a generator, a socket...)
            await self._finish_failed(task, ErrorInfo(type(exc).__qualname__, "its return "
                                                      f"value cannot be stored: {exc}"), started)
            return  # dead-lettered at once: running it again would return the same kind
        if await self._complete(done, task.attempts, result):
            self._count(done, ok=True)
            task_log.debug("task %s (%s, queue %s, attempt %d) completed in %.3f s", task.id,
                           task.func_name, task.queue_name, task.attempts,
                           (now - started).total_seconds())
            self.events.task_event(EventType.COMPLETE, done,
                                   duration=(now - started).total_seconds())
            if call.callback is not None:
                await self._callback(done, call, value)

    async def _failed(self, task: Task, error: ErrorInfo, started: Any) -> None:
        if task.retries < task.max_retries:
            delay = retry_delay(task)
            now = utcnow()
            again = self.queue.failed(task, error, now, now + timedelta(seconds=delay))
            if await self._complete(again, task.attempts, None):
                self._count(again, ok=False)
                task_log.info("task %s (%s, queue %s) failed attempt %d of %d (%s: %s); "
                              "retrying in %.3f s", task.id, task.func_name, task.queue_name,
                              task.attempts, task.max_retries + 1, error.type, error.message,
                              delay)
                self.events.task_event(EventType.RETRY, again, delay=delay,
                                       attempt_failed=task.attempts)
            return
        await self._finish_failed(task, error, started)

    async def _finish_failed(self, task: Task, error: ErrorInfo, started: Any,
                             status: TaskStatus = TaskStatus.FAILED) -> None:
        now = utcnow()
        gone = self.queue.failed(task, error, now)
        if status != TaskStatus.FAILED:
            gone.status = status
        result = self._result(gone, started, now, error=error)
        if await self._complete(gone, task.attempts, result):
            if status == TaskStatus.CANCELLED:
                self.events.task_event(EventType.CANCELLED, gone)
            else:
                self._count(gone, ok=False)
                task_log.warning("task %s (%s, queue %s) failed attempt %d (%s: %s); "
                                 "dead-lettered", task.id, task.func_name, task.queue_name,
                                 task.attempts, error.type, error.message)
                self.events.task_event(EventType.ERROR, gone)
                self.events.task_event(EventType.DEAD_LETTER, gone)

    def _result(self, task: Task, started: Any, now: Any, *, value: Any = None,
                error: ErrorInfo | None = None) -> ResultRecord | None:
        """The outcome as the result store keeps it, encoded here, where a value that cannot
        be encoded fails its task rather than the writes of the tasks batched with it."""
        if self.result_store is None:
            return None
        return self.result_store.record(TaskResult(
            task_id=task.id, status=task.status, result=value, error=error,
            attempts=task.attempts, started_at=started, finished_at=now,
            expires_at=now + timedelta(seconds=task.result_ttl) if task.result_ttl else None,
            schedule_id=task.schedule_id, worker_id=self.worker_id,
        ))

    async def _callback(self, task: Task, call: Call, value: Any) -> None:
        """Run the callback with the result; its failure never fails the task."""
        assert call.callback is not None
        try:
            result = call.callback(value, **(call.callback_args or {}))
            if asyncio.iscoroutine(result):
                await result
        except Exception as exc:
            logger.warning("callback of task %s failed: %s", task.id, exc)
            self.events.task_event(EventType.CALLBACK_ERROR, task, message=repr(exc))

    # -- from task code (TaskContext) ----------------------------------------------------------
    async def _set_progress(self, ctx: TaskContext, progress: Any) -> bool:
        ok = await self.queue.set_progress(ctx.task, progress)
        if ok:
            self.events.task_event(EventType.PROGRESS, ctx.task, progress=progress)
        return ok

    async def _extend(self, ctx: TaskContext, seconds: float) -> bool:
        renewed = await self.queue.extend_lease(ctx.task, seconds)
        if renewed is not None:
            ctx.task = renewed
        return renewed is not None
