"""omniq-nats: the ``nats`` task queue, result store, event store and backend bundle, on
NATS JetStream (nats-py).

>>> from omniq_nats import NATSTaskQueue, NATSBackend                 # doctest: +SKIP
>>> queue = NATSTaskQueue(servers=["nats://localhost:4222"])           # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from omniq.plugins import lazy_exports

if TYPE_CHECKING:
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

# The registry imports this package to reach its entry point module: the names import on
# first use, so a program on another backend never loads this one.
__getattr__ = lazy_exports(__name__, {
    "._config": [
        "NATSBackendConfig", "NATSEventStoreConfig", "NATSResultStoreConfig", "NATSTaskQueueConfig",
    ],
    ".backend": ["AsyncNATSBackend", "NATSBackend"],
    ".events": ["AsyncNATSEventStore", "NATSEventStore"],
    ".queue": ["AsyncNATSTaskQueue", "NATSTaskQueue"],
    ".results": ["AsyncNATSResultStore", "NATSResultStore"],
})
