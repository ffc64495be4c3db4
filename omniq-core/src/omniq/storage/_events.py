"""Event stores: the contract a backend implements.

Events are plain data (:class:`~omniq.models.TaskEvent`): engines keep them as columns or JSON,
never pickled, so anything can query them.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from datetime import datetime

from .._component import AsyncComponent
from ..models import EventType, TaskEvent


class EventStoreContract(abc.ABC):
    @abc.abstractmethod
    async def append(self, events: Sequence[TaskEvent]) -> None:
        """Store a batch of events."""

    @abc.abstractmethod
    async def query(
        self,
        *,
        task_id: str | None = None,
        schedule_id: str | None = None,
        type: EventType | str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
    ) -> list[TaskEvent]:
        """Events matching every given filter, in time order (ties by id)."""

    @abc.abstractmethod
    async def purge(self, before: datetime) -> int:
        """Remove events older than ``before`` (retention); returns how many."""


class AsyncEventStorage(AsyncComponent, EventStoreContract):
    """Stores task lifecycle events."""

    kind = "event_store"

    async def get_events(self, **filters: object) -> list[TaskEvent]:
        await self.connect()
        return await self.query(**filters)  # type: ignore[arg-type]
