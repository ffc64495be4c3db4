"""The task: what a worker runs, and its lifecycle state.

msgspec needs the field types at runtime, so this module does not use
``from __future__ import annotations``.
"""

import enum
from datetime import UTC, datetime
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


class ErrorInfo(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A failure, as data: the exception's type name, message and formatted traceback."""

    type: str
    message: str
    traceback: str | None = None


def fields_without_payload(struct: msgspec.Struct) -> list[tuple[str, Any]]:
    """A struct's fields for ``repr``, its signed payload shown by size only: the payload holds
    the call's arguments, which may be secrets (tokens, passwords), and its bytes say nothing
    a reader of a log needs."""
    shown = []
    for name in struct.__struct_fields__:
        value = getattr(struct, name)
        shown.append((name, f"<{len(value)} bytes>" if name == "payload" else value))
    return shown


def repr_without_payload(struct: msgspec.Struct) -> str:
    shown = ", ".join(f"{name}={value if name == 'payload' else repr(value)}"
                      for name, value in fields_without_payload(struct))
    return f"{type(struct).__name__}({shown})"


class Task(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One enqueued function call with its options and lifecycle state.

    ``payload`` is the signed envelope (function reference or code, arguments, callback) made
    by :mod:`omniq.serialization`; it also binds the fields of :func:`binding` (the id and what
    decides how the task runs), so none of them can be changed, nor the payload replayed under
    another id, unseen. The rest is metadata that stores may index and the lifecycle changes.
    Times are timezone-aware UTC; durations are seconds. A stored record with a field this
    version does not know is refused, never read with that field dropped.
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
    #: The enqueue's trace context (W3C ``traceparent``...) when tracing is on; signed.
    trace_context: dict[str, str] | None = None
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

    __repr__ = repr_without_payload
    __rich_repr__ = fields_without_payload

    def __hash__(self) -> int:
        return hash(self.id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Task) and other.id == self.id and other.attempts == self.attempts


def binding(task_id: str, task: "Task") -> list[Any]:
    """What a task's signature binds besides its call: its id, every field that decides how it
    runs (queue, timeout, retries, dependencies, deliveries, result options, schedule), every
    other field set at enqueue and never changed after (the function's name shown, priority,
    name, description, tags, creation time) and its trace context when it has one: only
    lifecycle state is left unsigned.
    """
    return binding_values(task_id, task.queue_name, task.timeout, task.max_retries,
                          task.retry_delay, task.depends_on, task.max_deliveries,
                          task.store_result, task.result_ttl, task.schedule_id,
                          task.func_name, task.priority, task.name, task.description,
                          task.tags, task.created_at, task.trace_context)


def binding_values(task_id: str, queue_name: str, timeout: float | None, max_retries: int,
                   retry_delay: float, depends_on: list[str], max_deliveries: int | None,
                   store_result: bool, result_ttl: float | None, schedule_id: str | None,
                   func_name: str, priority: int, name: str | None, description: str | None,
                   tags: list[str], created_at: datetime,
                   trace_context: dict[str, str] | None = None) -> list[Any]:
    """:func:`binding` of a task still being built, from its fields."""
    bound = [task_id, queue_name, timeout, max_retries, retry_delay, list(depends_on),
             max_deliveries, store_result, result_ttl, schedule_id, func_name, priority, name,
             description, list(tags), created_at]
    # Appended only when present, so tasks signed before traces existed still verify.
    return [*bound, trace_context] if trace_context is not None else bound


#: ``func_name`` of the stand-in for a record that could not be read.
UNREADABLE = "<unreadable record>"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_decode = msgspec.msgpack.Decoder(Task).decode


def decode_task(blob: bytes, task_id: str) -> Task:
    """The task stored under ``task_id``, decoded from its record.

    A record that cannot be decoded, has a field this version does not know, or names another
    id comes back as a stand-in: same id, no payload, ``func_name`` :data:`UNREADABLE` and the
    reason in ``error``. Engines hand it out like any task; a worker dead-letters it without
    running anything, so one damaged record never stalls the queue behind it.
    """
    try:
        task = _decode(blob)
    except msgspec.DecodeError as exc:  # ValidationError included
        return unreadable(task_id, f"cannot decode the stored record: {exc}")
    if task.id != task_id:
        return unreadable(task_id, f"the record stored under this id names task {task.id!r}")
    return task


def unreadable(task_id: str, reason: str) -> Task:
    """The stand-in :func:`decode_task` returns for a damaged record."""
    return Task(id=task_id, func_name=UNREADABLE, payload=b"", created_at=_EPOCH,
                run_at=_EPOCH, error=ErrorInfo("Unreadable", reason))
