"""The storage interface: everything a backend implements, and nothing more.

The core (``AsyncTaskQueue``, the stores' base classes, the workers) decides every lifecycle
question once; a backend fills in the abstract methods of the three classes below and may not
override a lifecycle method. ``docs/user_guide/architecture.qmd`` maps every call onto the
engines, and ``omniq.testing`` checks every rule stated here.

Rules every implementation keeps:

* Tasks and schedules are stored whole (their msgspec structs, e.g. msgpack-encoded); fields a
  query needs are indexed beside them. Reads return the latest stored version.
* Claims are atomic: a task is handed to one claimer at a time, however many component
  instances and processes claim at once.
* Conditional writes (``update_task``, ``finish_tasks``, ``update_schedule``) compare and set
  in one atomic step.
* Times are aware UTC datetimes; compare them as instants.
* Unreachable engines raise :class:`~omniq.exceptions.BackendUnavailableError`; nothing is
  written half (retrying a call that raised cannot store a task twice).

Fast paths are capabilities declared here with a plain default (marked *optional*): a backend
overrides them when its engine can do better, and nothing else looks for them.
"""

from __future__ import annotations

import abc
import asyncio
import enum
import logging
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, NamedTuple

import anyio
import msgspec

from .models import EventType, Schedule, ScheduleStatus, Task, TaskEvent, TaskStatus, WorkerInfo

if TYPE_CHECKING:
    from .storage import AsyncResultStore

__all__ = [
    "EventStoreContract",
    "Finished",
    "ResultRecord",
    "ResultStoreContract",
    "TaskQueueContract",
]


class Finished(enum.IntEnum):
    """What :meth:`TaskQueueContract.finish_tasks` did with one finished attempt (falsy:
    nothing)."""

    #: Not written: the stored task is no longer running that attempt (a late worker).
    FENCED = 0
    #: Written, and no task depends on this one: nothing to release or cancel.
    WRITTEN = 1
    #: Written; tasks may depend on this one (the safe answer when the engine cannot tell).
    WRITTEN_WITH_DEPENDENTS = 2


class ResultRecord(NamedTuple):
    """A result as a store keeps it: the signed, encoded :class:`~omniq.models.TaskResult`
    (``blob``, opaque to the engine) and the fields lookups and expiry need beside it."""

    task_id: str
    blob: bytes
    expires_at: datetime | None
    schedule_id: str | None
    finished_at: datetime


class TaskQueueContract(abc.ABC):
    """Tasks, schedules and dependency state of one project."""

    #: True when :meth:`wait_for_work` wakes for every task made runnable in its queues by any
    #: process (enqueues, retries, released dependents, recovered leases) and when their etas
    #: come due. Idle workers then look again only every maintenance interval, instead of
    #: polling every ``POLL_INTERVAL``.
    pushes_work: ClassVar[bool] = False

    # -- tasks ---------------------------------------------------------------------------------
    @abc.abstractmethod
    async def add_tasks(self, tasks: Sequence[Task]) -> list[bool]:
        """Insert tasks whose id is new; leave existing ids untouched (idempotent enqueue).

        Returns, per task, True if it was inserted. A task with ``depends_on`` is also indexed
        under each parent so :meth:`dependents` finds it. Either all new tasks are stored or
        the call raises, and retrying it cannot insert a task twice.
        """

    @abc.abstractmethod
    async def claim(self, queues: Sequence[str], *, worker_id: str, lease: float, now: datetime,
                    limit: int = 1) -> list[Task]:
        """Atomically take up to ``limit`` runnable tasks and lease them to ``worker_id``.

        Runnable: status ``pending`` or ``retrying`` and ``run_at <= now``. Order: by position of
        the task's queue in ``queues`` (earlier first), then higher ``priority``, then earlier
        ``run_at``, then lower id (FIFO). Each claimed task is stored and returned with status
        ``running``, ``attempts`` increased by one, ``worker_id``, ``started_at = now`` and
        ``lease_expires_at = now + lease``. No task is returned to two claimers.
        """

    @abc.abstractmethod
    async def get_task(self, task_id: str) -> Task | None:
        """The stored task, or None."""

    @abc.abstractmethod
    async def update_task(self, task: Task, *, expect_status: Collection[TaskStatus],
                          expect_attempts: int | None = None) -> bool:
        """Replace the stored task by ``task`` if its stored status is in ``expect_status`` and
        (when given) its stored ``attempts`` equals ``expect_attempts``; atomically.

        Returns False, writing nothing, when the task is missing or the condition fails. This is
        the fencing point: a late worker's write under an old attempt is refused here.
        """

    @abc.abstractmethod
    async def list_tasks(self, *, queue_name: str | None = None, status: TaskStatus | None = None,
                         limit: int = 100, offset: int = 0) -> list[Task]:
        """Tasks filtered by queue and status, oldest id first."""

    @abc.abstractmethod
    async def count_tasks(self, *, queue_name: str | None = None,
                          status: TaskStatus | None = None) -> int:
        """How many tasks match; cheap enough to call from a dashboard."""

    @abc.abstractmethod
    async def expired_leases(self, now: datetime, limit: int = 100) -> list[Task]:
        """Running tasks whose ``lease_expires_at`` is before ``now`` (their worker is gone)."""

    @abc.abstractmethod
    async def dependents(self, task_id: str) -> list[Task]:
        """Tasks that listed ``task_id`` in ``depends_on``."""

    @abc.abstractmethod
    async def delete_tasks(self, task_ids: Sequence[str]) -> int:
        """Remove tasks (and their dependency index entries); returns how many existed."""

    # -- optional: reads for inspection (the CLI, dashboards) -----------------------------------
    async def page_tasks(
        self,
        *,
        queue_name: str | None = None,
        status: TaskStatus | None = None,
        after: str | None = None,
        descending: bool = False,
        limit: int = 100,
    ) -> list[Task]:
        """Up to ``limit`` tasks filtered by queue and status, in id order (newest first when
        ``descending``), starting after the id ``after`` in that order (keyset pagination: a
        page deep in a million tasks costs what the first does).

        *Optional*: the default walks :meth:`list_tasks` by offset from the start (every page
        costs what all pages before it cost); every engine we ship reads its indexes from
        ``after`` on instead.
        """
        if limit <= 0:
            return []
        if descending:
            total = await self.count_tasks(queue_name=queue_name, status=status)
            end = total
            found: list[Task] = []
            while end > 0 and len(found) < limit:
                start = max(0, end - 500)
                chunk = await self.list_tasks(queue_name=queue_name, status=status,
                                              limit=end - start, offset=start)
                found += [t for t in reversed(chunk) if after is None or t.id < after]
                end = start
            return found[:limit]
        found, offset = [], 0
        while len(found) < limit:
            chunk = await self.list_tasks(queue_name=queue_name, status=status, limit=500,
                                          offset=offset)
            found += [t for t in chunk if after is None or t.id > after]
            if len(chunk) < 500:
                break
            offset += 500
        return found[:limit]

    async def task_counts(self) -> dict[str, dict[TaskStatus, int]]:
        """How many tasks each queue holds, by status: ``{queue: {status: n}}``, leaving out
        queues and statuses with none.

        *Optional*: the default reads every task through :meth:`list_tasks`; every engine we
        ship counts from its indexes (a ``GROUP BY``, counters, index sizes).
        """
        counts: dict[str, dict[TaskStatus, int]] = {}
        offset = 0
        while True:
            chunk = await self.list_tasks(limit=1000, offset=offset)
            for task in chunk:
                per_queue = counts.setdefault(task.queue_name, {})
                per_queue[task.status] = per_queue.get(task.status, 0) + 1
            if len(chunk) < 1000:
                return counts
            offset += 1000

    # -- optional: faster forms of the above ---------------------------------------------------
    async def finish_tasks(self, updates: Sequence[tuple[Task, int]],
                           results: Sequence[ResultRecord | None] | None = None) -> list[Finished]:
        """Write finished attempts as one batch; *optional* (default: one
        :meth:`update_task` each).

        ``updates[i]`` is ``(task, attempt)``: ``task`` replaces the stored task only if the
        stored one is ``running`` under ``attempt`` (fenced); otherwise nothing is written for
        it (:attr:`Finished.FENCED`). ``results`` is passed only when
        :meth:`writes_results_for` said yes for the worker's result store: then ``results[i]``
        (or None) is written, in the same atomic write, if and only if ``updates[i]`` was.
        """
        done = []
        for task, attempt in updates:
            ok = await self.update_task(task, expect_status=(TaskStatus.RUNNING,),
                                        expect_attempts=attempt)
            done.append(Finished.WRITTEN_WITH_DEPENDENTS if ok else Finished.FENCED)
        return done

    def writes_results_for(self, store: AsyncResultStore) -> bool:
        """Whether :meth:`finish_tasks` can write ``store``'s results together with the tasks
        (same engine, same place); *optional* (default False: results are written after)."""
        return False

    def default_result_store(self) -> AsyncResultStore | None:
        """The result store kept in this queue's own engine, used when none is configured;
        *optional* (default None: results then stay in the process's memory)."""
        return None

    async def modify_running(self, task_id: str, attempts: int,
                             change: Callable[[Task], Task]) -> Task | None:
        """Store ``change(stored)`` in place of the stored task if it is still ``running``
        attempt ``attempts``; returns what was stored, or None. *Optional*, but the default
        reads then writes fenced, so a write landing in between (a cancel request) is lost:
        engines make it atomic (a transaction, or compare-and-set on the stored blob), and
        the kit's ``ClaimAtomicityTests`` fail the default on a store instances share."""
        stored = await self.get_task(task_id)
        if stored is None or stored.status != TaskStatus.RUNNING or stored.attempts != attempts:
            return None
        new = change(stored)
        ok = await self.update_task(new, expect_status={TaskStatus.RUNNING},
                                    expect_attempts=attempts)
        return new if ok else None

    async def renew_lease(self, task_id: str, attempts: int,
                          expires_at: datetime) -> Task | None:
        """Move the lease of running attempt ``attempts`` to ``expires_at`` unless the stored
        one is later (a lease never moves back: a heartbeat worked out before the task's own
        extension landed must not cut it), and nothing else; returns the stored task, or None
        if the attempt is no longer current. *Optional*: default :meth:`modify_running`."""
        def later(task: Task) -> Task:
            held = task.lease_expires_at
            return msgspec.structs.replace(
                task, lease_expires_at=expires_at if held is None else max(held, expires_at))

        return await self.modify_running(task_id, attempts, later)

    async def renew_leases(self, leases: Sequence[tuple[str, int, datetime]]
                           ) -> list[Task | None]:
        """:meth:`renew_lease` for each ``(task_id, attempts, expires_at)``, answered in order:
        a worker's heartbeat renews everything it holds at once. *Optional* (default: the
        renewals sent together); engines whose calls contend for the GIL do them in one
        transaction (each call a thread switch: beside CPU-bound threads, ~20 ms apiece)."""
        return list(await asyncio.gather(*(self.renew_lease(*lease) for lease in leases)))

    async def wait_for_work(self, queues: Sequence[str], timeout: float) -> None:
        """Return when work may have arrived in ``queues``, or after ``timeout`` seconds.

        *Optional*: engines that can push (LISTEN/NOTIFY, blocking pops, JetStream) block here
        instead of polling, and say so with :attr:`pushes_work`; the default sleeps.
        """
        await anyio.sleep(timeout)

    async def claim_when_ready(self, queues: Sequence[str], *, worker_id: str, lease: float,
                               limit: int, timeout: float) -> list[Task]:
        """Wait as :meth:`wait_for_work` does, then :meth:`claim` as of the time it woke.

        What an idle worker calls; *optional*: engines that can send the claim with the wait,
        so it runs the moment the wake-up does, save a round trip. A failing wake-up channel
        does not fail the claim: it waits out ``timeout`` instead.
        """
        from ._time import utcnow

        try:
            await self.wait_for_work(queues, timeout)
        except Exception as exc:  # a dead wake-up channel must not stop the worker claiming
            logging.getLogger("omniq.worker").debug("wait_for_work failed: %s", exc)
            await anyio.sleep(timeout)
        return await self.claim(queues, worker_id=worker_id, lease=lease, now=utcnow(),
                                limit=limit)

    # -- schedules -----------------------------------------------------------------------------
    @abc.abstractmethod
    async def add_schedule(self, schedule: Schedule) -> bool:
        """Insert a schedule if its id is new; returns True if inserted."""

    @abc.abstractmethod
    async def get_schedule(self, schedule_id: str) -> Schedule | None:
        """The stored schedule, or None."""

    @abc.abstractmethod
    async def list_schedules(self, *, status: ScheduleStatus | None = None) -> list[Schedule]:
        """All schedules (optionally of one status), oldest id first."""

    @abc.abstractmethod
    async def update_schedule(self, schedule: Schedule, *, expect_version: int) -> bool:
        """Replace the stored schedule if its stored ``version`` equals ``expect_version``
        (compare-and-set, so two schedulers cannot both advance it, and a pause is never lost).
        The caller passes ``schedule`` with ``version = expect_version + 1``. False if missing."""

    @abc.abstractmethod
    async def delete_schedule(self, schedule_id: str) -> bool:
        """Remove a schedule; True if it existed."""

    @abc.abstractmethod
    async def due_schedules(self, now: datetime, limit: int = 100) -> list[Schedule]:
        """Active schedules whose ``next_run_at`` is at or before ``now``."""

    # -- the worker registry -------------------------------------------------------------------
    @abc.abstractmethod
    async def put_worker(self, worker: WorkerInfo) -> None:
        """Store ``worker`` under its id, replacing any record stored there.

        A worker calls this when it starts and again at every heartbeat (every few seconds),
        so it should cost one small write. Records are few (one per worker, gone ones pruned
        by the core through :meth:`delete_workers`) and are stored whole, like tasks.
        """

    @abc.abstractmethod
    async def list_workers(self) -> list[WorkerInfo]:
        """Every stored worker record, by id (a record that cannot be decoded is left out)."""

    @abc.abstractmethod
    async def delete_workers(self, worker_ids: Sequence[str]) -> int:
        """Remove the records of these workers; returns how many existed."""


class ResultStoreContract(abc.ABC):
    """Results of one project: opaque signed blobs keyed by task id.

    Encoding, signing and verifying happen in the core, so no backend ever unpickles a byte it
    was not handed by it.
    """

    #: The largest blob :meth:`put_blob` stores, in bytes, once connected (``None``: no limit
    #: worth checking). A worker fails a task whose result is larger, saying so, rather than
    #: learning it from a write the store refuses.
    blob_size_limit: int | None = None

    @abc.abstractmethod
    async def put_blob(self, task_id: str, blob: bytes, *, expires_at: datetime | None,
                       schedule_id: str | None, finished_at: datetime) -> None:
        """Store (or overwrite) the result of ``task_id``; expire it at ``expires_at``
        (engine-native expiry where there is one) and index it under ``schedule_id``."""

    async def put_blobs(self, records: Sequence[ResultRecord]) -> None:
        """Several :meth:`put_blob` calls; *optional*: engines batch them."""
        for task_id, blob, expires_at, schedule_id, finished_at in records:
            await self.put_blob(task_id, blob, expires_at=expires_at, schedule_id=schedule_id,
                                finished_at=finished_at)

    @abc.abstractmethod
    async def get_blob(self, task_id: str) -> bytes | None:
        """The stored blob, or None if absent or expired."""

    @abc.abstractmethod
    async def schedule_blobs(self, schedule_id: str, *, latest_only: bool) -> list[bytes]:
        """Unexpired results of a schedule's tasks, oldest ``finished_at`` first (only the
        newest when ``latest_only``)."""

    @abc.abstractmethod
    async def delete_blob(self, task_id: str) -> bool:
        """Remove a result; True if it existed."""

    @abc.abstractmethod
    async def purge_expired(self, now: datetime) -> int:
        """Remove results whose expiry has passed (engines with native expiry return 0)."""

    async def wait_blob(self, task_id: str, timeout: float, poll_interval: float) -> bytes | None:
        """Wait up to ``timeout`` for the result; *optional*: engines that can push (pub/sub,
        NOTIFY, KV watch) do; the default polls."""
        with anyio.move_on_after(timeout):
            while True:
                blob = await self.get_blob(task_id)
                if blob is not None:
                    return blob
                await anyio.sleep(poll_interval)
        return None


class EventStoreContract(abc.ABC):
    """Task lifecycle events, kept as plain data (columns or JSON, never pickled) so anything
    can query them."""

    @abc.abstractmethod
    async def append(self, events: Sequence[TaskEvent]) -> None:
        """Store a batch of events."""

    @abc.abstractmethod
    async def query(self, *, task_id: str | None = None, schedule_id: str | None = None,
                    type: EventType | str | None = None, since: datetime | None = None,
                    until: datetime | None = None, limit: int = 1000) -> list[TaskEvent]:
        """Events matching every given filter, in time order (ties by id)."""

    @abc.abstractmethod
    async def purge(self, before: datetime) -> int:
        """Remove events older than ``before`` (retention); returns how many."""
