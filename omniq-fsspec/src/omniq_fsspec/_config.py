"""The settings every file component shares, as one base for their config structs.

msgspec needs the field types at runtime, so no ``from __future__ import annotations``.
"""

from typing import Any

from omniq.models import ConfigStruct


class _FileLocationConfig(ConfigStruct, kw_only=True):
    """Where the files are: ``url`` or ``base_dir`` (a directory or an fsspec URL) and the
    fsspec ``storage_options``.

    Each component's config (``FileTaskQueueConfig``, ``FileResultStoreConfig``,
    ``FileEventStoreConfig``, ``FileBackendConfig``) subclasses this and adds its own.
    """

    project_name: str | None = None
    url: str | None = None
    base_dir: str | None = None
    storage_options: dict[str, Any] | None = None
