"""The task: what a worker runs, and its lifecycle state.

msgspec needs the field types at runtime, so this module does not use
``from __future__ import annotations``.
"""

import enum
from datetime import datetime
from typing import Any

import msgspec


class TaskStatus(enum.StrEnum):
    """Where a task is in its lifecycle."""

    PENDING = "pending"  # queued, runnable at its eta
    WAITING = "waiting"  # blocked on dependencies
    RUNNING = "running"  # claimed under a lease
    COMPLETED = "completed"
    FAILED = "failed"
    RETRYING = "retrying"  # failed an attempt, runnable again at its eta
    CANCELLED = "cancelled"
    EXPIRED = "expired"


#: Statuses a worker may claim (when the eta has passed).
RUNNABLE = frozenset({TaskStatus.PENDING, TaskStatus.RETRYING})
#: Statuses a task never leaves.
FINISHED = frozenset(
    {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.EXPIRED}
)
#: Finished without completing: the dead letters, which can be requeued.
DEAD = FINISHED - {TaskStatus.COMPLETED}


class ErrorInfo(msgspec.Struct, frozen=True):
    """A failure, as data: the exception's type name, message and formatted traceback."""

    type: str
    message: str
    traceback: str | None = None


class Task(msgspec.Struct, kw_only=True):
    """One enqueued function call with its options and lifecycle state.

    ``payload`` is the signed envelope (function reference or code, arguments, callback) made
    by :mod:`omniq.serialization`; everything else is plain metadata that stores may index.
    Times are timezone-aware UTC; durations are seconds.
    """

    id: str
    func_name: str
    payload: bytes
    queue_name: str = "default"
    name: str | None = None
    description: str | None = None
    tags: list[str] = []
    priority: int = 0
    status: TaskStatus = TaskStatus.PENDING
    created_at: datetime
    run_at: datetime
    expires_at: datetime | None = None
    result_ttl: float | None = None
    depends_on: list[str] = []
    max_retries: int = 0
    retry_delay: float = 0.0
    timeout: float | None = None
    store_result: bool = True
    schedule_id: str | None = None
    max_deliveries: int | None = None
    # Lifecycle state, changed by the queue and the worker.
    attempts: int = 0  # claims so far; the fencing token of the current claim
    retries: int = 0  # failed attempts that were retried
    redeliveries: int = 0  # claims lost to an expired lease (the worker died or hung)
    worker_id: str | None = None
    lease_expires_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: ErrorInfo | None = None
    progress: Any = None
    cancel_requested: bool = False

    @property
    def func(self) -> str:
        """The function's import path (``module:qualname``), for display."""
        return self.func_name

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    def __hash__(self) -> int:
        return hash(self.id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Task) and other.id == self.id and other.attempts == self.attempts
