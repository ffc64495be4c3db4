"""OmniQ's web dashboard: queues, tasks with their events, schedules, dead letters, workers
and charts, as a Starlette app (:func:`create_app`) to serve with ``omniq dashboard`` or to
mount in your own Starlette or FastAPI app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from omniq.plugins import lazy_exports

if TYPE_CHECKING:
    from .app import create_app

__all__ = ["create_app"]

# Every ``omniq`` command imports this package to reach its entry point module (command.py):
# the app, and Starlette with it, import on first use.
__getattr__ = lazy_exports(__name__, {
    ".app": ["create_app"],
})
