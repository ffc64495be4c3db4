"""How a worker names its backend in its start line: a short type and a location without
passwords."""

from __future__ import annotations

from typing import Any

from ..config import redact_url


def backend_label(component: Any) -> str:
    """``sqlite``, ``postgres``, ``redis``, ``memory``...: a queue's or store's class name,
    shortened."""
    name = type(component).__name__.removeprefix("Async")
    for kind in ("TaskQueue", "EventStore", "ResultStore"):
        name = name.removesuffix(kind)
    return name.lower() or type(component).__name__


def location_of(queue: Any) -> str:
    """Where ``queue`` keeps its tasks, for logs: a URL, DSN or path, passwords hidden."""
    for attribute in ("dsn", "url", "where", "database_path", "location"):
        value = getattr(queue, attribute, None)
        if isinstance(value, str) and value:
            return redact_url(value)
    return "in this process"
