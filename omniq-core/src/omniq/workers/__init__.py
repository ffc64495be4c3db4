"""Workers: the core loop and its execution strategies, plus every plugin's workers by name
(``from omniq.workers import GeventWorker`` resolves through the plugin registry)."""

from __future__ import annotations

from .._facade import facade_getattr
from ..exceptions import TaskCancelledError
from ._base import AsyncWorkerBase
from ._context import TaskContext, current_task

__all__ = ["AsyncWorkerBase", "TaskCancelledError", "TaskContext", "current_task"]

__getattr__ = facade_getattr(__name__, globals())
