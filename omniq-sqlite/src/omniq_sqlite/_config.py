"""The settings every SQLite component shares, as one base for their config structs.

msgspec needs the field types at runtime, so no ``from __future__ import annotations``.
"""

from omniq.models import ConfigStruct


class _SQLiteConnectionConfig(ConfigStruct, kw_only=True):
    """Where the database is and how long to wait for its write lock; each component's
    config struct subclasses this."""

    project_name: str | None = None
    url: str | None = None
    database_path: str | None = None
    base_dir: str | None = None
    busy_timeout: float | None = None
