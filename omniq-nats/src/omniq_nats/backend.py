"""The ``nats`` backend bundle: queue, results and events on one NATS JetStream server (or
cluster)."""

from __future__ import annotations

from omniq.backend import AsyncBackend
from omniq.sync import Backend

from ._config import NATSBackendConfig
from .events import AsyncNATSEventStore
from .queue import AsyncNATSTaskQueue
from .results import AsyncNATSResultStore


class AsyncNATSBackend(AsyncBackend):
    """Builds the NATS task queue, result store and event store from one set of connection
    settings (``NATSBackend(project_name="p", servers=["nats://nats:4222"])``); each
    component keeps its own connection.
    """

    config_class = NATSBackendConfig
    task_queue_class = AsyncNATSTaskQueue
    result_store_class = AsyncNATSResultStore
    event_store_class = AsyncNATSEventStore


class NATSBackend(Backend, twin_of=AsyncNATSBackend):
    """Blocking twin of :class:`AsyncNATSBackend`."""


__all__ = ["AsyncNATSBackend", "NATSBackend", "NATSBackendConfig"]
