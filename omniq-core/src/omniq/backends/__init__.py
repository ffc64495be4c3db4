"""Alias of :mod:`omniq.backend` (seed 004 writes ``from omniq.backends.sqlite import ...``)."""

from __future__ import annotations

from .._facade import facade_getattr
from ..backend import AsyncBackend

__all__ = ["AsyncBackend"]

__getattr__ = facade_getattr(__name__, globals())
