"""Data models: tasks, schedules, results, events and configuration structs."""

from __future__ import annotations

from .._facade import facade_getattr
from ._cancel import CancelOutcome
from ._config import (
    ComponentConfig,
    ConfigStruct,
    EventStoreConfig,
    OmniQConfig,
    ResultStoreConfig,
    TaskQueueConfig,
    WorkerConfig,
)
from ._event import EventType, TaskEvent
from ._query import QueueStats, TaskFilter, TaskPage
from ._result import TaskResult
from ._schedule import Schedule, ScheduleStatus, ScheduleType
from ._task import (
    DEAD,
    FINISHED,
    RUNNABLE,
    UNREADABLE,
    ErrorInfo,
    Task,
    TaskStatus,
    binding,
    binding_values,
    decode_task,
    unreadable,
)
from ._worker import MinuteCount, WorkerInfo, decode_workers

__all__ = ["UNREADABLE", "binding", "binding_values", "decode_task", "unreadable", "ConfigStruct",
           "ComponentConfig", "EventStoreConfig", "OmniQConfig", "ResultStoreConfig",
           "TaskQueueConfig", "WorkerConfig", "CancelOutcome", "DEAD", "FINISHED", "RUNNABLE",
           "ErrorInfo", "EventType", "Schedule", "ScheduleStatus", "ScheduleType", "Task",
           "TaskEvent", "TaskResult", "TaskStatus", "MinuteCount", "QueueStats", "TaskFilter",
           "TaskPage", "WorkerInfo", "decode_workers"]

# Plugin config structs by name: ``from omniq.models import SQLiteTaskQueueConfig``.
__getattr__ = facade_getattr(__name__, globals())
