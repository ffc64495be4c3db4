"""Event stores: the plumbing written once over :class:`omniq.contract.EventStoreContract`."""

from __future__ import annotations

from .._component import AsyncComponent
from ..contract import EventStoreContract
from ..models import TaskEvent


class AsyncEventStore(AsyncComponent, EventStoreContract):
    """Stores task lifecycle events."""

    kind = "event_store"

    async def get_events(self, **filters: object) -> list[TaskEvent]:
        await self.connect()
        return await self.query(**filters)  # type: ignore[arg-type]
