"""Task lifecycle events: the non-blocking logger that feeds an event store."""

from __future__ import annotations

from ._logger import EventLogger

__all__ = ["EventLogger"]
