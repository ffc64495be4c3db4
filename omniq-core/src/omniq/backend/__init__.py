"""Backend bundles, and every plugin's backends by name
(``from omniq.backend import SQLiteBackend`` resolves through the plugin registry)."""

from __future__ import annotations

from .._facade import facade_getattr
from ._base import AsyncBackend

__all__ = ["AsyncBackend"]

__getattr__ = facade_getattr(__name__, globals())
