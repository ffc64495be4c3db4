"""Entry point of omniq-nats: registers the ``nats`` types (classes load on first use)."""

from __future__ import annotations

from omniq.plugins import Register, hookimpl

_SCHEMES = ["nats", "tls"]


@hookimpl
def omniq_register_task_queues(register: Register) -> None:
    register("nats", "omniq_nats.queue:AsyncNATSTaskQueue", schemes=_SCHEMES,
             exports=["NATSTaskQueue", "NATSTaskQueueConfig"])


@hookimpl
def omniq_register_result_stores(register: Register) -> None:
    register("nats", "omniq_nats.results:AsyncNATSResultStore", schemes=_SCHEMES,
             exports=["NATSResultStore", "AsyncNATSResultStore", "NATSResultStoreConfig"])


@hookimpl
def omniq_register_event_stores(register: Register) -> None:
    register("nats", "omniq_nats.events:AsyncNATSEventStore", schemes=_SCHEMES,
             exports=["NATSEventStore", "AsyncNATSEventStore", "NATSEventStoreConfig"])


@hookimpl
def omniq_register_backends(register: Register) -> None:
    register("nats", "omniq_nats.backend:AsyncNATSBackend",
             exports=["NATSBackend", "NATSBackendConfig"])
