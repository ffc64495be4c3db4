"""The outcome of one task.

msgspec needs the field types at runtime, so no ``from __future__ import annotations``.
"""

from datetime import datetime
from typing import Any

import msgspec

from ._task import ErrorInfo, TaskStatus


class TaskResult(msgspec.Struct, kw_only=True):
    """What a finished task produced: its value, or the error that failed it.

    ``result`` holds the decoded value when read through a result store; in the store itself
    the value travels signed, as bytes (see :mod:`omniq.serialization`).
    """

    task_id: str
    status: TaskStatus
    result: Any = None
    error: ErrorInfo | None = None
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime
    expires_at: datetime | None = None
    schedule_id: str | None = None
    worker_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == TaskStatus.COMPLETED
