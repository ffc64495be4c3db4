"""Entry point of omniq-fsspec: registers the ``file`` types. Imports nothing but omniq."""

from __future__ import annotations

from omniq.plugins import Register, hookimpl

_ALIASES = ["fsspec"]
_SCHEMES = ["file", "memory", "s3", "gs", "gcs", "abfs", "az"]


@hookimpl
def omniq_register_task_queues(register: Register) -> None:
    register("file", "omniq_fsspec.queue:AsyncFileTaskQueue", aliases=_ALIASES,
             schemes=_SCHEMES, exports=["FileTaskQueue", "FileTaskQueueConfig"])


@hookimpl
def omniq_register_result_stores(register: Register) -> None:
    register("file", "omniq_fsspec.results:AsyncFileResultStore", aliases=_ALIASES,
             schemes=_SCHEMES, exports=["FileResultStore", "FileResultStoreConfig"])


@hookimpl
def omniq_register_event_stores(register: Register) -> None:
    register("file", "omniq_fsspec.events:AsyncFileEventStore", aliases=_ALIASES,
             schemes=_SCHEMES, exports=["FileEventStore", "FileEventStoreConfig"])


@hookimpl
def omniq_register_backends(register: Register) -> None:
    register("file", "omniq_fsspec.backend:AsyncFileBackend", aliases=_ALIASES,
             schemes=_SCHEMES, exports=["FileBackend", "FileBackendConfig"])
