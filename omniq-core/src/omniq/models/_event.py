"""Task lifecycle events: plain data, stored without pickling (columns or JSON).

msgspec needs the field types at runtime, so no ``from __future__ import annotations``.
"""

import enum
from datetime import datetime
from typing import Any

import msgspec


class EventType(enum.StrEnum):
    ENQUEUED = "ENQUEUED"
    WAITING = "WAITING"
    EXECUTING = "EXECUTING"
    COMPLETE = "COMPLETE"
    ERROR = "ERROR"
    RETRY = "RETRY"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    TIMEOUT = "TIMEOUT"
    DEAD_LETTER = "DEAD_LETTER"
    REQUEUED = "REQUEUED"
    LEASE_EXPIRED = "LEASE_EXPIRED"
    REJECTED = "REJECTED"  # a payload failed its signature check
    PROGRESS = "PROGRESS"
    CALLBACK_ERROR = "CALLBACK_ERROR"
    SCHEDULE_CREATED = "SCHEDULE_CREATED"
    SCHEDULE_FIRED = "SCHEDULE_FIRED"
    SCHEDULE_PAUSED = "SCHEDULE_PAUSED"
    SCHEDULE_RESUMED = "SCHEDULE_RESUMED"
    SCHEDULE_DELETED = "SCHEDULE_DELETED"


class TaskEvent(msgspec.Struct, kw_only=True):
    """One step of a task's (or schedule's) life."""

    id: str
    type: EventType
    timestamp: datetime
    task_id: str | None = None
    schedule_id: str | None = None
    queue_name: str | None = None
    worker_id: str | None = None
    attempt: int | None = None
    message: str | None = None
    data: dict[str, Any] = {}
