"""How a worker names its backend in its start line: a short type name."""

from __future__ import annotations

from typing import Any


def backend_label(component: Any) -> str:
    """``sqlite``, ``postgres``, ``redis``, ``memory``...: a queue's or store's class name,
    shortened."""
    name = type(component).__name__.removeprefix("Async")
    for kind in ("TaskQueue", "EventStore", "ResultStore"):
        name = name.removesuffix(kind)
    return name.lower() or type(component).__name__
