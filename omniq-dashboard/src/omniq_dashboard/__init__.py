"""OmniQ's web dashboard: queues, tasks with their events, schedules, dead letters, workers
and charts, as a Starlette app (:func:`create_app`) to serve with ``omniq dashboard`` or to
mount in your own Starlette or FastAPI app."""

from .app import create_app

__all__ = ["create_app"]
