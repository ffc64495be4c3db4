"""The ``nats`` event store: events as JSON on a JetStream stream per project
(``<prefix>_<project>_events``), one subject per event,
``<prefix>.<project>.ev.<TYPE>.<task id or _>.<schedule id or _>``.

A query reads only the subjects it asks for (a subject filter with wildcards for what it does
not name) and orders by the events' own timestamps, which is what the interface compares
(``since``/``until``), not the time a message reached the stream. An event id is the
message id (``Nats-Msg-Id``), so an event appended twice within the stream's duplicate window
is stored once. ``max_age=`` sets the stream's retention; :meth:`purge` deletes older events
one message at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
import nats.js.errors
from nats.js import api
from omniq.models import EventType, TaskEvent
from omniq.storage import AsyncEventStore
from omniq.sync import EventStore

from ._client import NATSConnection, pause_when_idle, scan, token
from ._config import NATSEventStoreConfig

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(TaskEvent).decode
#: Events published at once by append.
APPEND_CONCURRENCY = 256


class AsyncNATSEventStore(NATSConnection, AsyncEventStore):
    """Task lifecycle events on a NATS JetStream stream.

    Args:
        project_name: Namespace of this project's stream.
        secret_key: Unused by events (they are plain data); accepted for symmetry.
        max_age: Seconds the stream keeps an event (default None: until purged).
        servers, url, user, password, token, user_credentials, nkeys_seed, tls_ca_file,
        tls_cert_file, tls_key_file, tls_hostname, client, name_prefix, connect_timeout,
        request_timeout, replicas, file_storage:
            How to reach NATS; see :class:`omniq_nats._client.NATSConnection`.
    """

    config_class = NATSEventStoreConfig

    def __init__(self, *, max_age: float | None = None, **settings: Any) -> None:
        self._max_age = max_age
        super().__init__(**settings)

    def _init_component(self) -> None:
        self.stream = f"{self.base}_events"
        self.subjects = f"{self.subject_base}.ev"

    async def _connect(self) -> None:
        await self._open()
        config = api.StreamConfig(
            name=self.stream, subjects=[self.subjects + ".>"], storage=self._storage,
            num_replicas=self._replicas, max_age=self._max_age, duplicate_window=120.0)
        with self.errors:
            try:
                await self.js.stream_info(self.stream)
            except nats.js.errors.NotFoundError:
                await self.js.add_stream(config)
        pause_when_idle(self.nc)  # the subscription of nats-py's requests is new

    async def _close(self) -> None:
        await self._shut()

    def _subject(self, type_: str, task_id: str | None, schedule_id: str | None) -> str:
        return (f"{self.subjects}.{type_}.{'*' if task_id is None else token(task_id)}."
                f"{'*' if schedule_id is None else token(schedule_id)}")

    async def append(self, events: Sequence[TaskEvent]) -> None:
        if not events:
            return
        await self.connect()

        async def publish(event: TaskEvent) -> None:
            subject = (f"{self.subjects}.{EventType(event.type).value}."
                       f"{'_' if event.task_id is None else token(event.task_id)}."
                       f"{'_' if event.schedule_id is None else token(event.schedule_id)}")
            await self.js.publish(subject, _encode(event), headers={"Nats-Msg-Id": event.id})

        with self.errors:
            for start in range(0, len(events), APPEND_CONCURRENCY):
                await asyncio.gather(*(publish(e) for e in
                                       events[start:start + APPEND_CONCURRENCY]))

    async def _read(self, task_id: str | None, schedule_id: str | None,
                    type_: EventType | None) -> list[tuple[TaskEvent, int]]:
        subject = self._subject("*" if type_ is None else type_.value, task_id, schedule_id)
        if subject == f"{self.subjects}.*.*.*":
            subject = self.subjects + ".>"
        with self.errors:
            messages = await scan(self.js, self.stream, subject)
        return [(_decode(m.data), m.metadata.sequence.stream) for m in messages]

    async def query(self, *, task_id: str | None = None, schedule_id: str | None = None,
                    type: EventType | str | None = None, since: datetime | None = None,
                    until: datetime | None = None, limit: int = 1000) -> list[TaskEvent]:
        await self.connect()
        wanted = EventType(type) if type is not None else None
        found = [e for e, _ in await self._read(task_id, schedule_id, wanted)
                 if (since is None or e.timestamp >= since)
                 and (until is None or e.timestamp <= until)]
        found.sort(key=lambda e: (e.timestamp, e.id))
        return found[:limit]

    async def purge(self, before: datetime) -> int:
        """Remove events older than ``before``, each by its stream sequence."""
        await self.connect()
        old = [seq for event, seq in await self._read(None, None, None)
               if event.timestamp < before]
        with self.errors:
            for seq in old:
                await self.js.delete_msg(self.stream, seq)
        return len(old)


class NATSEventStore(EventStore, twin_of=AsyncNATSEventStore):
    """Blocking twin of :class:`AsyncNATSEventStore`."""


__all__ = ["AsyncNATSEventStore", "NATSEventStore", "NATSEventStoreConfig"]
