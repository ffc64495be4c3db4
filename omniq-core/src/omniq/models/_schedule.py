"""A recurring or deferred task: cron, interval or a single run_at.

msgspec needs the field types at runtime, so no ``from __future__ import annotations``.
"""

import enum
from datetime import datetime

import msgspec

from ._task import fields_without_payload, repr_without_payload


class ScheduleStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    FINISHED = "finished"  # max_runs reached, end passed, or its single run_at fired


class ScheduleType(enum.StrEnum):
    INTERVAL = "interval"
    CRON = "cron"
    RUN_AT = "run_at"


class Schedule(msgspec.Struct, kw_only=True):
    """When to create tasks from one function call, and the options of those tasks.

    ``next_run_at`` is the next fire time; each fire becomes a task whose id is derived from
    (schedule id, fire time), so any number of schedulers enqueue it once.
    """

    id: str
    func_name: str
    payload: bytes
    schedule_type: ScheduleType
    cron_expression: str | None = None
    interval: float | None = None  # seconds
    run_at: datetime | None = None
    timezone: str = "UTC"
    start_at: datetime | None = None
    end_at: datetime | None = None
    max_runs: int | None = None
    run_count: int = 0
    status: ScheduleStatus = ScheduleStatus.ACTIVE
    next_run_at: datetime | None = None
    last_run_at: datetime | None = None
    created_at: datetime
    # Options of the tasks it creates.
    queue_name: str = "default"
    name: str | None = None
    description: str | None = None
    tags: list[str] = []
    priority: int = 0
    ttl: float | None = None
    result_ttl: float | None = None
    max_retries: int = 0
    retry_delay: float = 0.0
    timeout: float | None = None
    store_result: bool = True
    allow_overlap: bool = True
    last_task_id: str | None = None
    version: int = 0  # increased by every write; the compare-and-set token

    __repr__ = repr_without_payload
    __rich_repr__ = fields_without_payload

    @property
    def func(self) -> str:
        return self.func_name

    def __hash__(self) -> int:
        return hash(self.id)
