"""How a worker names its backend in its start line: a short type and a location without
passwords."""

from __future__ import annotations

from typing import Any

from ..config import redact_url


def backend_label(queue: Any) -> str:
    """``sqlite``, ``postgres``, ``redis``, ``memory``...: the queue's class name, shortened."""
    name = type(queue).__name__
    name = name.removeprefix("Async").removesuffix("TaskQueue")
    return name.lower() or type(queue).__name__


def location_of(queue: Any) -> str:
    """Where ``queue`` keeps its tasks, for logs: a URL, DSN or path, passwords hidden."""
    for attribute in ("dsn", "url", "where", "database_path"):
        value = getattr(queue, attribute, None)
        if isinstance(value, str) and value:
            return redact_url(value)
    return "in this process"
