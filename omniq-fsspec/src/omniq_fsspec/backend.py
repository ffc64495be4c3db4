"""``AsyncFileBackend``: the queue, result store and event store of one folder."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from omniq.backend import AsyncBackend
from omniq.sync import Backend

from ._config import _FileLocationConfig
from .events import AsyncFileEventStore
from .queue import AsyncFileTaskQueue
from .results import AsyncFileResultStore


class FileBackendConfig(_FileLocationConfig, kw_only=True):
    """Settings of :class:`FileBackend`."""


class AsyncFileBackend(AsyncBackend):
    """Tasks, results and events of a project as files under ``<location>/<project_name>/``.

    ``FileBackend(project_name="p", base_dir="data")`` keeps them in ``data/p/``;
    ``base_dir="s3://bucket/omniq"`` in that bucket.

    Args:
        project_name: Name of this project's folder under the location.
        url: The location as a URL (``file:///abs/dir``, ``memory://``, ``s3://bucket/p``).
        base_dir: The location as a directory or URL; default: the ``FSSPEC_URI`` setting,
            else ``BASE_DIR``.
        storage_options: Passed to the fsspec filesystem.
        secret_key: Signing key.
    """

    config_class = FileBackendConfig
    task_queue_class = AsyncFileTaskQueue
    result_store_class = AsyncFileResultStore
    event_store_class = AsyncFileEventStore

    def __init__(self, *, project_name: str | None = None, secret_key: str | None = None,
                 url: str | None = None, base_dir: str | os.PathLike[str] | None = None,
                 storage_options: Mapping[str, Any] | None = None) -> None:
        given: dict[str, Any] = {"url": url, "base_dir": base_dir,
                                 "storage_options": storage_options}
        super().__init__(project_name=project_name, secret_key=secret_key,
                         **{k: v for k, v in given.items() if v is not None})


class FileBackend(Backend, twin_of=AsyncFileBackend):
    """Blocking twin of :class:`AsyncFileBackend`."""


__all__ = ["AsyncFileBackend", "FileBackend", "FileBackendConfig"]
