"""omniq-nats: the ``nats`` task queue, result store, event store and backend bundle, on
NATS JetStream (nats-py).

>>> from omniq_nats import NATSTaskQueue, NATSBackend                 # doctest: +SKIP
>>> queue = NATSTaskQueue(servers=["nats://localhost:4222"])           # doctest: +SKIP
"""

from ._config import (
    NATSBackendConfig,
    NATSEventStoreConfig,
    NATSResultStoreConfig,
    NATSTaskQueueConfig,
)
from .backend import AsyncNATSBackend, NATSBackend
from .events import AsyncNATSEventStore, NATSEventStore
from .queue import AsyncNATSTaskQueue, NATSTaskQueue
from .results import AsyncNATSResultStore, NATSResultStore

__all__ = [
    "AsyncNATSBackend",
    "AsyncNATSEventStore",
    "AsyncNATSResultStore",
    "AsyncNATSTaskQueue",
    "NATSBackend",
    "NATSBackendConfig",
    "NATSEventStore",
    "NATSEventStoreConfig",
    "NATSResultStore",
    "NATSResultStoreConfig",
    "NATSTaskQueue",
    "NATSTaskQueueConfig",
]
