"""Waiting for a task's value: shared by ``OmniQ.get_result`` and ``worker.get_result``."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import anyio

from ._time import utcnow
from .exceptions import (
    ConfigError,
    TaskCancelledError,
    TaskFailedError,
    TaskNotFoundError,
    TaskTimeoutError,
)
from .models import RUNNABLE, ErrorInfo, Task, TaskResult, TaskStatus

if TYPE_CHECKING:
    from .queue import AsyncTaskQueue
    from .storage import AsyncResultStore

#: A waiter re-reads the task itself, to notice cancellation or expiry, first after
#: ``FIRST_STATUS_CHECK`` seconds and then ever less often, up to ``STATUS_CHECK``.
FIRST_STATUS_CHECK = 0.05
STATUS_CHECK = 1.0
#: Seconds past its timeout a wait may take to say where the task stands, before it is cut.
TIMEOUT_OVERRUN = 0.25


def unwrap(task_id: str, result: TaskResult) -> Any:
    if result.status == TaskStatus.COMPLETED:
        return result.result
    if result.status == TaskStatus.FAILED:
        raise _failed(task_id, result.error)
    raise TaskCancelledError(task_id, result.status.value,
                             result.error.message if result.error else None)


def outcome(result: TaskResult) -> Any:
    """The value of a finished run, or the error it ended with, returned rather than raised."""
    try:
        return unwrap(result.task_id, result)
    except (TaskFailedError, TaskCancelledError) as exc:
        return exc


def _failed(task_id: str, error: ErrorInfo | None) -> TaskFailedError:
    if error is None:
        return TaskFailedError(task_id, "Error", "")
    return TaskFailedError(task_id, error.type, error.message, error.traceback)


async def wait_for_value(queue: AsyncTaskQueue, results: AsyncResultStore | None,
                         task_id: str, timeout: float | None = None,
                         poll_interval: float = 0.05) -> Any:
    """The value of ``task_id``, waiting up to ``timeout`` seconds (None: no limit); raises as
    ``AsyncOmniQ.get_result`` says."""
    if timeout is None:
        return await _wait_for_value(queue, results, task_id, None, poll_interval)
    # A store that stops answering must not hold the caller past its timeout: a call in
    # flight would otherwise wait for the driver's own timeout (NATS: request_timeout).
    with anyio.move_on_after(timeout + TIMEOUT_OVERRUN):
        return await _wait_for_value(queue, results, task_id, timeout, poll_interval)
    raise TaskTimeoutError(f"task {task_id} has no result after {timeout} s (the store did "
                           "not answer in time)")


async def _wait_for_value(queue: AsyncTaskQueue, results: AsyncResultStore | None,
                          task_id: str, timeout: float | None, poll_interval: float) -> Any:
    if results is None:
        raise ConfigError("no result store configured", field="result_store", value=None,
                          expected="a result store to read results from")
    deadline = math.inf if timeout is None else anyio.current_time() + timeout
    check = FIRST_STATUS_CHECK
    while True:
        # Wait for the result first: for a task that finishes quickly this is the only
        # round trip. Between waits, read the task to notice what never writes a result.
        remaining = max(0.0, deadline - anyio.current_time())
        try:
            return unwrap(task_id, await results.wait(task_id, min(remaining, check),
                                                      poll_interval))
        except TaskTimeoutError:
            check = min(check * 2, STATUS_CHECK)
        task = await queue.get_task(task_id)
        if task is None:
            raise TaskNotFoundError(f"no task with id {task_id!r}")
        if task.status in (TaskStatus.CANCELLED, TaskStatus.EXPIRED):
            raise TaskCancelledError(task_id, task.status.value,
                                     task.error.message if task.error else None)
        if task.status == TaskStatus.COMPLETED and not task.store_result:
            return None
        if task.status == TaskStatus.COMPLETED and (why := _result_expired(task)):
            raise TaskNotFoundError(f"the result of task {task_id} has expired: {why}")
        if task.status == TaskStatus.FAILED:
            result = await results.get(task_id)  # written just after the task, normally
            if result is not None:
                return unwrap(task_id, result)
            raise _failed(task_id, task.error)  # e.g. a poison pill: no result was written
        if deadline - anyio.current_time() <= 0:
            raise TaskTimeoutError(f"task {task_id} has no result after {timeout} s "
                                   f"({_where(task)})")


def _result_expired(task: Task) -> str | None:
    """Why a completed task's result is past its ``result_ttl`` (no wait can bring it any
    more), or None while it may still be read."""
    finished, ttl = task.finished_at, task.result_ttl
    if finished is None or ttl is None or (utcnow() - finished).total_seconds() < ttl:
        return None
    return f"the task completed at {finished.isoformat(timespec='seconds')} with result_ttl {ttl} s"


def _where(task: Task) -> str:
    """Where a task that has no result yet stands; for a runnable one not taken yet, the usual
    reason: no worker serves its queue (or they are all busy)."""
    status, queue = task.status.value, task.queue_name
    if task.status == TaskStatus.WAITING:
        return f"status {status}: its dependencies {task.depends_on} have not all completed"
    if task.status not in RUNNABLE:
        return f"status {status}"
    if task.run_at > utcnow():
        return f"status {status}, due at {task.run_at.isoformat(timespec='seconds')}"
    return (f"status {status} in queue {queue!r}, not taken yet: is a worker serving that "
            f"queue? e.g. start_worker(queues=[{queue!r}]) or omniq worker --queues {queue}")


async def wait_for_schedule_result(results: AsyncResultStore, schedule_id: str,
                                   timeout: float) -> TaskResult:
    """The result of the latest run of ``schedule_id``, waiting up to ``timeout`` seconds for
    a first one; raises ``TaskTimeoutError`` when none came in time."""
    deadline = anyio.current_time() + timeout
    pause = FIRST_STATUS_CHECK
    while True:
        found = await results.get_schedule_results(schedule_id, "latest")
        if isinstance(found, TaskResult):
            return found
        remaining = deadline - anyio.current_time()
        if remaining <= 0:
            raise TaskTimeoutError(f"schedule {schedule_id} has no run with a result after "
                                   f"{timeout} s; is a worker with the scheduler running?")
        # Backing off: a schedule's first run may be an interval away.
        await anyio.sleep(min(pause, remaining))
        pause = min(pause * 2, STATUS_CHECK / 2)
