"""The core's own types, registered through the same hooks as any third-party plugin.

Named by the core's entry point (``core = "omniq._builtin_plugins"``) and loaded explicitly by
the registry as well, so the core works even from a source tree that is not pip-installed. Like
every hookimpl module it imports nothing but :mod:`omniq.plugins`: the classes are imported
when first resolved.
"""

from __future__ import annotations

from omniq.plugins import Register, hookimpl


@hookimpl
def omniq_register_task_queues(register: Register) -> None:
    register("memory", "omniq.queue.memory:AsyncMemoryTaskQueue",
             exports=["MemoryTaskQueue", "MemoryTaskQueueConfig"])


@hookimpl
def omniq_register_result_stores(register: Register) -> None:
    register("memory", "omniq.storage.memory:AsyncMemoryResultStore",
             exports=["MemoryResultStore", "MemoryResultStoreConfig"])


@hookimpl
def omniq_register_event_stores(register: Register) -> None:
    register("memory", "omniq.storage.memory:AsyncMemoryEventStore",
             exports=["MemoryEventStore", "MemoryEventStoreConfig"])


@hookimpl
def omniq_register_backends(register: Register) -> None:
    register("memory", "omniq.backend.memory:AsyncMemoryBackend",
             exports=["MemoryBackend", "MemoryBackendConfig"])


@hookimpl
def omniq_register_workers(register: Register) -> None:
    register("async", "omniq.workers._asyncio:AsyncioWorker", exports=["AsyncWorker"])
    register("thread_pool", "omniq.workers._threads:AsyncThreadPoolWorker",
             aliases=["thread", "threads"], exports=["ThreadPoolWorker"])
    register("process_pool", "omniq.workers._processes:AsyncProcessPoolWorker",
             aliases=["process", "processes"], exports=["ProcessPoolWorker"])
