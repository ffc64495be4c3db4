"""OmniQ: an async-first Python task queue with pluggable backends and workers.

``AsyncOmniQ`` is the API; ``OmniQ`` its blocking twin (with ``*_async`` methods and ``async
with`` support too). Backends and workers are plugins found by entry points.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from ._core import AsyncOmniQ
from .backend import AsyncBackend
from .exceptions import (
    BackendError,
    BackendUnavailableError,
    ConfigError,
    OmniQError,
    PluginNotFoundError,
    ScheduleNotFoundError,
    SerializationError,
    SignatureError,
    TaskCancelledError,
    TaskFailedError,
    TaskNotFoundError,
    TaskTimeoutError,
)
from .models import (
    CancelOutcome,
    EventType,
    Schedule,
    ScheduleStatus,
    Task,
    TaskEvent,
    TaskResult,
    TaskStatus,
)
from .queue import AsyncTaskQueue
from .storage import AsyncEventStore, AsyncResultStore
from .sync import EventStore, OmniQ, ResultStore, TaskQueue
from .workers import TaskContext, current_task

try:
    __version__ = version("omniq")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"


__all__ = ["AsyncBackend", "AsyncEventStore", "AsyncOmniQ", "AsyncResultStore", "AsyncTaskQueue",
           "BackendError", "CancelOutcome", "BackendUnavailableError", "ConfigError", "EventStore",
           "EventType", "OmniQ", "OmniQError", "PluginNotFoundError", "ResultStore", "Schedule",
           "ScheduleNotFoundError", "ScheduleStatus", "SerializationError", "SignatureError",
           "Task", "TaskCancelledError", "TaskContext", "TaskEvent", "TaskFailedError",
           "TaskNotFoundError", "TaskQueue", "TaskResult", "TaskStatus", "TaskTimeoutError",
           "__version__", "current_task"]


def __getattr__(name: str) -> object:
    """Other spellings of this module's names (``TaskCancelled``): see ``omniq._aliases``."""
    from ._aliases import canonical

    other = canonical(name)
    if other is not None and other in globals():
        return globals()[other]
    raise AttributeError(f"module 'omniq' has no attribute {name!r}")
