"""``TaskQueueModelTests``: a hypothesis state machine drives a backend's queue and a plain
Python model side by side (enqueue, claim, complete, fail with or without a retry, cancel,
lease recovery, late completions, the clock moving) and checks after every step that the
store agrees with the model: claim order, statuses, attempts, counts and fencing.

The machine runs in a worker thread and calls the queue on the test's event loop through
``anyio.from_thread``, so the queue stays on the loop that connected it. Each example uses
queue names of its own and deletes its tasks afterwards, so one ``task_queue`` serves all.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ..models import CancelOutcome, ErrorInfo, Task, TaskStatus
from . import _tasks
from ._support import KitBase, moment

LEASE = 10.0
MAX_DELIVERIES = 2
ERROR = ErrorInfo("RuntimeError", "model failure")
FINISHED = {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.EXPIRED}


@dataclass
class Model:
    """What the store should hold for one task."""

    id: str
    queue: int
    priority: int
    run_at: datetime
    max_retries: int
    status: TaskStatus = TaskStatus.PENDING
    attempts: int = 0
    retries: int = 0
    redeliveries: int = 0


class QueueMachine(RuleBasedStateMachine):
    """The queue against its model. ``call(async_fn, *args)`` runs on the queue's loop."""

    tasks = Bundle("tasks")

    def __init__(self, queue: Any, call: Callable[..., Any]) -> None:
        super().__init__()
        self.queue, self.call = queue, call
        tag = uuid.uuid4().hex[:12]
        self.names = [f"m-hi-{tag}", f"m-lo-{tag}"]
        self.now = moment()
        self.model: dict[str, Model] = {}
        self.held: dict[str, Task] = {}  # the claim each running task is held under
        self.stale: list[Task] = []  # claims that lost their lease (a worker that woke late)

    def _q(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.call(functools.partial(getattr(self.queue, method), *args, **kwargs))

    def _running(self) -> list[str]:
        return sorted(i for i, m in self.model.items() if m.status == TaskStatus.RUNNING)

    # -- rules ---------------------------------------------------------------------------------
    @rule(target=tasks, queue=st.sampled_from([0, 1]), priority=st.integers(-2, 2),
          delay=st.sampled_from([0, 0, 0, 1, 5]), max_retries=st.integers(0, 2))
    def enqueue(self, queue: int, priority: int, delay: int, max_retries: int) -> str:
        task = self.queue.build_task(
            _tasks.noop, queue_name=self.names[queue], priority=priority,
            run_at=self.now + timedelta(seconds=delay), now=self.now, max_retries=max_retries,
            retry_delay=0, max_deliveries=MAX_DELIVERIES)
        assert self._q("enqueue_tasks", [task]) == [task.id]
        self.model[task.id] = Model(task.id, queue, priority, task.run_at, max_retries)
        return task.id

    @rule(limit=st.integers(1, 4))
    def claim(self, limit: int) -> None:
        runnable = [m for m in self.model.values()
                    if m.status in (TaskStatus.PENDING, TaskStatus.RETRYING)
                    and m.run_at <= self.now]
        runnable.sort(key=lambda m: (m.queue, -m.priority, m.run_at, m.id))
        expected = [m.id for m in runnable[:limit]]
        got = self._q("claim", self.names, worker_id="model", lease=LEASE, now=self.now,
                      limit=limit)
        assert [t.id for t in got] == expected
        for task in got:
            m = self.model[task.id]
            m.status, m.attempts = TaskStatus.RUNNING, m.attempts + 1
            assert task.attempts == m.attempts and task.status == TaskStatus.RUNNING
            self.held[task.id] = task

    @precondition(lambda self: self._running())
    @rule(data=st.data())
    def complete(self, data: st.DataObject) -> None:
        task_id = data.draw(st.sampled_from(self._running()))
        task = self.held.pop(task_id)
        done = self.queue.completed(task, self.now)
        assert self._q("finish", [(done, task.attempts)]) == [True]
        self.model[task_id].status = TaskStatus.COMPLETED

    @precondition(lambda self: self._running())
    @rule(data=st.data(), retry_in=st.sampled_from([0, 2]))
    def fail(self, data: st.DataObject, retry_in: int) -> None:
        task_id = data.draw(st.sampled_from(self._running()))
        task, m = self.held.pop(task_id), self.model[task_id]
        if m.retries < m.max_retries:
            retry_at = self.now + timedelta(seconds=retry_in)
            new = self.queue.failed(task, ERROR, self.now, retry_at)
            m.status, m.retries, m.run_at = TaskStatus.RETRYING, m.retries + 1, retry_at
        else:
            new = self.queue.failed(task, ERROR, self.now)
            m.status = TaskStatus.FAILED
        assert self._q("finish", [(new, task.attempts)]) == [True]

    @rule(task_id=tasks)
    def cancel(self, task_id: str) -> None:
        m = self.model[task_id]
        outcome = self._q("cancel", task_id)
        assert outcome == (CancelOutcome.ALREADY_FINISHED if m.status in FINISHED else
                           CancelOutcome.REQUESTED if m.status == TaskStatus.RUNNING else
                           CancelOutcome.CANCELLED)
        if m.status in (TaskStatus.PENDING, TaskStatus.RETRYING):
            m.status = TaskStatus.CANCELLED
        # A running task is only asked to stop: it stays running under its claim.

    @rule(seconds=st.sampled_from([1, 3]))
    def advance(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @rule()
    def recover(self) -> None:
        """Every running task's worker dies: past the lease, recovery requeues them."""
        self.now += timedelta(seconds=LEASE + 1)
        expected = {}
        for task_id in self._running():
            m = self.model[task_id]
            m.redeliveries += 1
            m.status = (TaskStatus.FAILED if m.redeliveries >= MAX_DELIVERIES
                        else TaskStatus.PENDING)
            expected[task_id] = m.status
            self.stale.append(self.held.pop(task_id))
        recovered = self._q("recover_leases", self.now, limit=1000)
        mine = {t.id: t.status for t in recovered if t.id in self.model}
        assert mine == expected

    @precondition(lambda self: self.stale)
    @rule(data=st.data(), succeed=st.booleans())
    def late_worker(self, data: st.DataObject, succeed: bool) -> None:
        """A worker that lost its lease finishes late: fencing refuses its write."""
        task = data.draw(st.sampled_from(self.stale))
        new = (self.queue.completed(task, self.now) if succeed
               else self.queue.failed(task, ERROR, self.now))
        assert self._q("finish", [(new, task.attempts)]) == [False]
        assert self._q("extend_lease", task, LEASE) is None

    # -- what must always hold -----------------------------------------------------------------
    @invariant()
    def store_matches_model(self) -> None:
        for index, name in enumerate(self.names):
            stored = {t.id: t for t in self._q("list_tasks", queue_name=name, limit=10_000)}
            wanted = {i: m for i, m in self.model.items() if m.queue == index}
            assert set(stored) == set(wanted)
            for task_id, m in wanted.items():
                t = stored[task_id]
                assert (t.status, t.attempts, t.retries, t.redeliveries) == (
                    m.status, m.attempts, m.retries, m.redeliveries), task_id
            for status in (TaskStatus.PENDING, TaskStatus.RUNNING):
                count = self._q("count_tasks", queue_name=name, status=status)
                assert count == sum(1 for m in wanted.values() if m.status == status)

    def teardown(self) -> None:
        if self.model:
            self._q("delete_tasks", list(self.model))


class TaskQueueModelTests(KitBase):
    """The queue behaves like its model under random sequences of operations
    (fixture: ``task_queue``). Override ``model_settings`` to run more examples."""

    model_settings = settings(max_examples=25, stateful_step_count=30, deadline=None,
                              suppress_health_check=list(HealthCheck), database=None)

    @pytest.mark.anyio
    async def test_queue_behaves_like_its_model(self, task_queue: Any) -> None:
        def call(fn: Callable[[], Any]) -> Any:
            return anyio.from_thread.run(fn)

        def run() -> None:
            run_state_machine_as_test(lambda: QueueMachine(task_queue, call),  # type: ignore[arg-type]
                                      settings=self.model_settings)

        with anyio.fail_after(300):
            await anyio.to_thread.run_sync(run)
