"""Backends: one engine's queue, result store and event store from one set of settings."""

from __future__ import annotations

from typing import Any, ClassVar

from .._component import AsyncComponent
from ..exceptions import ConfigError


class AsyncBackend(AsyncComponent):
    """A bundle that builds the components of one engine.

    Subclasses name their component classes; the connection settings given here are passed to
    each component, so ``SQLiteBackend(project_name="p", base_dir="data")`` builds a queue, a
    result store and an event store in the same place.
    """

    kind = "backend"
    task_queue_class: ClassVar[type | None] = None
    result_store_class: ClassVar[type | None] = None
    event_store_class: ClassVar[type | None] = None

    def __init__(self, *, project_name: str | None = None, secret_key: str | None = None,
                 **settings: Any) -> None:
        super().__init__(project_name=project_name, secret_key=secret_key)
        self.settings = settings

    def _build(self, cls: type | None, what: str, overrides: dict[str, Any]) -> Any:
        if cls is None:
            raise ConfigError(f"{type(self).__name__} has no {what}", field=what, value=None,
                              expected="a backend that provides it, or pass one explicitly")
        kwargs = {**self.settings, **overrides}
        kwargs.setdefault("project_name", self.project_name)
        if self._secret_key:
            kwargs.setdefault("secret_key", self._secret_key)
        return cls(**kwargs)

    def create_task_queue(self, **overrides: Any) -> Any:
        """A new task queue on this backend (``queues=`` and other options as overrides)."""
        return self._build(self.task_queue_class, "task queue", overrides)

    def create_result_store(self, **overrides: Any) -> Any:
        return self._build(self.result_store_class, "result store", overrides)

    def create_event_store(self, **overrides: Any) -> Any:
        return self._build(self.event_store_class, "event store", overrides)

    def initialize(self) -> None:
        """Kept for the seeds' ``backend.initialize()``; components connect on first use."""
