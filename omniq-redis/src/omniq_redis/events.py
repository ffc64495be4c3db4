"""The ``redis`` event store: events as JSON (plain data anything can read), indexed by
time, task, schedule and type in sorted sets, so each query reads only the events it asks
for and retention removes the oldest first.

Keys under ``omniq:{project}:``: ``ev`` (hash: event id -> JSON), ``ev:t`` (all events by
time), ``ev:task:<id>``, ``ev:sch:<id>`` and ``ev:type:<TYPE>`` (the same, per task, schedule
and type). Scores are microseconds since the epoch; ties are ordered by event id.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec
from omniq.models import EventType, TaskEvent
from omniq.storage import AsyncEventStore
from omniq.sync import EventStore

from ._client import RedisConnection, to_us
from ._config import RedisEventStoreConfig

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(TaskEvent).decode
#: Events read per round trip while filtering a query.
CHUNK = 500
PURGE_BATCH = 1000


class AsyncRedisEventStore(RedisConnection, AsyncEventStore):
    """Task lifecycle events in Redis.

    Args:
        project_name: Namespace of this project's keys (``omniq:{project}:...``).
        secret_key: Unused by events (they are plain data); accepted for symmetry.
        url, host, port, db, username, password, ssl, client, sentinels, sentinel_master,
        key_prefix, socket_connect_timeout, socket_timeout, max_connections, retries:
            How to reach Redis; see :class:`omniq_redis._client.RedisConnection`.
    """

    config_class = RedisEventStoreConfig
    script_names = ("events_purge",)

    async def append(self, events: Sequence[TaskEvent]) -> None:
        """The batch in one pipeline; writing an event id twice stores it once."""
        if not events:
            return
        await self.connect()
        p = self.prefix
        data: dict[str, bytes] = {}
        indexes: dict[str, dict[str, int]] = {}
        for event in events:
            score = to_us(event.timestamp)
            data[event.id] = _encode(event)
            keys = [p + "ev:t", f"{p}ev:type:{EventType(event.type).value}"]
            if event.task_id is not None:
                keys.append(f"{p}ev:task:{event.task_id}")
            if event.schedule_id is not None:
                keys.append(f"{p}ev:sch:{event.schedule_id}")
            for key in keys:
                indexes.setdefault(key, {})[event.id] = score
        with self.errors:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.hset(p + "ev", mapping=data)
                for key, members in indexes.items():
                    pipe.zadd(key, members)
                await pipe.execute()

    async def query(self, *, task_id: str | None = None, schedule_id: str | None = None,
                    type: EventType | str | None = None, since: datetime | None = None,
                    until: datetime | None = None, limit: int = 1000) -> list[TaskEvent]:
        await self.connect()
        wanted = EventType(type) if type is not None else None
        p = self.prefix
        if task_id is not None:
            key = f"{p}ev:task:{task_id}"
        elif schedule_id is not None:
            key = f"{p}ev:sch:{schedule_id}"
        elif wanted is not None:
            key = f"{p}ev:type:{wanted.value}"
        else:
            key = p + "ev:t"
        low = "-inf" if since is None else to_us(since)
        high = "+inf" if until is None else to_us(until)
        found: list[TaskEvent] = []
        offset = 0
        with self.errors:
            while len(found) < limit:
                ids = await self.client.zrangebyscore(key, low, high, start=offset, num=CHUNK)
                if not ids:
                    break
                offset += len(ids)
                for raw in await self.client.hmget(p + "ev", ids):
                    if raw is None:
                        continue
                    event = _decode(raw)
                    if (task_id is None or event.task_id == task_id) \
                            and (schedule_id is None or event.schedule_id == schedule_id) \
                            and (wanted is None or event.type == wanted):
                        found.append(event)
                if len(ids) < CHUNK:
                    break
        return found[:limit]

    async def purge(self, before: datetime) -> int:
        """Remove events older than ``before``, a batch per script call."""
        await self.connect()
        removed = 0
        while True:
            with self.errors:
                n = int(await self.lane.script(self._scripts["events_purge"], self._keys,
                                               [self.prefix, to_us(before), PURGE_BATCH]))
            removed += n
            if n < PURGE_BATCH:
                return removed


class RedisEventStore(EventStore, twin_of=AsyncRedisEventStore):
    """Blocking twin of :class:`AsyncRedisEventStore`."""


__all__ = ["AsyncRedisEventStore", "RedisEventStore", "RedisEventStoreConfig"]
