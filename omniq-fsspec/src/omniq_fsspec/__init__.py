"""omniq-fsspec: the ``file`` backend. Task queue, result and event stores as files in a folder
of any fsspec store: a local directory, ``memory://``, S3, Google Cloud Storage, Azure Blob
Storage.

Each project keeps its files under ``<location>/<project>/``; records are msgpack (tasks,
schedules, results) or JSON (events), and index entries beside them (empty objects whose names
sort in claim order) keep claims and listings independent of the history of finished tasks.
Claims are atomic on every store it accepts: ``flock`` + rename on a local directory, one lock
in ``memory://``, conditional writes on S3 and Azure (``If-None-Match`` / ``If-Match``) and GCS
(``ifGenerationMatch``). See
``docs/user_guide/backends/file.qmd``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from omniq.plugins import lazy_exports

if TYPE_CHECKING:
    from .backend import AsyncFileBackend, FileBackend, FileBackendConfig
    from .events import AsyncFileEventStore, FileEventStore, FileEventStoreConfig
    from .queue import AsyncFileTaskQueue, FileTaskQueue, FileTaskQueueConfig
    from .results import AsyncFileResultStore, FileResultStore, FileResultStoreConfig

__all__ = [
    "AsyncFileBackend",
    "AsyncFileEventStore",
    "AsyncFileResultStore",
    "AsyncFileTaskQueue",
    "FileBackend",
    "FileBackendConfig",
    "FileEventStore",
    "FileEventStoreConfig",
    "FileResultStore",
    "FileResultStoreConfig",
    "FileTaskQueue",
    "FileTaskQueueConfig",
]

# The registry imports this package to reach its entry point module: the names import on
# first use, so a program on another backend never loads this one.
__getattr__ = lazy_exports(__name__, {
    ".backend": ["AsyncFileBackend", "FileBackend", "FileBackendConfig"],
    ".events": ["AsyncFileEventStore", "FileEventStore", "FileEventStoreConfig"],
    ".queue": ["AsyncFileTaskQueue", "FileTaskQueue", "FileTaskQueueConfig"],
    ".results": ["AsyncFileResultStore", "FileResultStore", "FileResultStoreConfig"],
})
