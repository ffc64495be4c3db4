"""The task queue contract: the primitives a backend implements (DESIGN §4).

A backend fills in these few methods with its engine's own tools; everything else (building
tasks, signing, retries, dependencies, schedules, leases) is written once in
:class:`omniq.queue.AsyncTaskQueue` on top of them. ``omniq.testing`` checks every rule stated
here against a backend.

Rules every implementation keeps:

* Tasks are stored whole (the :class:`~omniq.models.Task` struct, e.g. msgpack-encoded) and the
  fields a query needs are indexed beside it. Reads return the latest stored version.
* Claims are atomic: a task is handed to one claimer at a time, however many claim at once.
* Conditional writes (``update_task``, ``update_schedule``) compare and set in one atomic step.
* Times are aware UTC datetimes; compare them as instants.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from ..models import Schedule, ScheduleStatus, Task, TaskResult, TaskStatus

if TYPE_CHECKING:
    from ..storage import AsyncResultStorage


class TaskQueueContract(abc.ABC):
    """Abstract storage primitives of a task queue."""

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
        under each parent so :meth:`dependents` finds it. Either all new tasks are stored or, on
        error, the call raises (``BackendUnavailableError`` when the store is unreachable) and
        retrying it cannot insert a task twice.
        """

    @abc.abstractmethod
    async def claim(
        self, queues: Sequence[str], *, worker_id: str, lease: float, now: datetime, limit: int = 1
    ) -> list[Task]:
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
    async def update_task(
        self,
        task: Task,
        *,
        expect_status: Collection[TaskStatus],
        expect_attempts: int | None = None,
    ) -> bool:
        """Replace the stored task by ``task`` if its stored status is in ``expect_status`` and
        (when given) its stored ``attempts`` equals ``expect_attempts``; atomically.

        Returns False, writing nothing, when the task is missing or the condition fails. This is
        the fencing point: a late worker's write under an old attempt is refused here.
        """

    async def update_tasks(
        self, updates: Sequence[tuple[Task, Collection[TaskStatus], int | None]]
    ) -> list[bool]:
        """Several :meth:`update_task` calls; engines override to do them in one round trip."""
        return [
            await self.update_task(t, expect_status=s, expect_attempts=a) for t, s, a in updates
        ]

    @abc.abstractmethod
    async def list_tasks(
        self,
        *,
        queue_name: str | None = None,
        status: TaskStatus | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Task]:
        """Tasks filtered by queue and status, oldest id first."""

    @abc.abstractmethod
    async def count_tasks(
        self, *, queue_name: str | None = None, status: TaskStatus | None = None
    ) -> int:
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

    async def wait_for_work(self, queues: Sequence[str], timeout: float) -> None:
        """Return when work may have arrived in ``queues``, or after ``timeout`` seconds.

        Engines that can push (LISTEN/NOTIFY, blocking pops, JetStream) override this so idle
        workers block instead of polling; the default just sleeps.
        """
        import anyio

        await anyio.sleep(timeout)

    async def finish_with_results(
        self, updates: Sequence[tuple[Task, int]], results: Sequence[TaskResult | None],
        store: AsyncResultStorage,
    ) -> list[bool] | None:
        """:meth:`~omniq.queue.AsyncTaskQueue.finish` the attempts and write, in the same round
        trip, the result of each whose finish landed (``results[i]`` belongs to
        ``updates[i]``; None: no result). For engines whose result ``store`` shares their
        server. Returns None, writing nothing, when it cannot: the worker then finishes and
        writes the results one after the other.
        """
        return None

    async def claim_when_ready(
        self, queues: Sequence[str], *, worker_id: str, lease: float, limit: int, timeout: float
    ) -> list[Task]:
        """Wait as :meth:`wait_for_work` does, then :meth:`claim` as of the time it woke.

        What an idle worker calls. Engines that can send the claim with the wait, so it runs
        the moment the wake-up does, override it to save the round trip between the two. A
        failing wake-up channel does not fail the claim: it waits out ``timeout`` instead.
        """
        import logging

        import anyio

        from .._time import utcnow

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
