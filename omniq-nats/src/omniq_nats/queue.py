"""The ``nats`` task queue: task and schedule records in a JetStream KV bucket, every write a
compare-and-set on the key's revision, and a live copy of the bucket in each process (see
``_mirror.py``) that orders claims and wakes idle workers.

Why not a work-queue stream with acks: a claim must honour the ``now`` it is given, the order
(queue position, priority, eta, id) and priority or eta changes made after enqueue; a lease
must be fenced by its attempt so a late worker's write is refused; a task must wait for its
eta without being delivered. A stream's delivery order, ``AckWait`` and ``MaxDeliver`` cannot
express those, so the records are the truth and the bucket's own stream is the wake-up
channel (docs/user_guide/backends/nats.qmd).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec
import nats.js.errors
from omniq.clock import utcnow
from omniq.contract import Finished, ResultRecord
from omniq.exceptions import BackendUnavailableError, ConfigError
from omniq.models import (
    Schedule,
    ScheduleStatus,
    Task,
    TaskStatus,
    WorkerInfo,
    decode_task,
    decode_workers,
)
from omniq.queue import AsyncTaskQueue
from omniq.sync import TaskQueue

from ._client import NATSConnection, token
from ._config import NATSTaskQueueConfig
from ._mirror import Mirror
from .results import AsyncNATSResultStore

logger = logging.getLogger("omniq.nats")

_encode = msgspec.msgpack.Encoder().encode
_decode_schedule = msgspec.msgpack.Decoder(Schedule).decode
_copy = msgspec.structs.replace
_RUNNING = TaskStatus.RUNNING
#: Seconds the live copy may lag behind a write before its watch is started again (after a
#: server restart the old consumer is gone).
STALL_SECONDS = 1.0
#: Writes in flight at once while enqueueing in bulk.
ADD_CONCURRENCY = 256
_Stale = nats.js.errors.KeyWrongLastSequenceError
_Missing = (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError)


def _task_key(task_id: str) -> str:
    return "t." + token(task_id)


def _schedule_key(schedule_id: str) -> str:
    return "s." + token(schedule_id)


def _worker_key(worker_id: str) -> str:
    return "w." + token(worker_id)


class AsyncNATSTaskQueue(NATSConnection, AsyncTaskQueue):
    """Tasks, schedules and dependency state in NATS JetStream (nats-py).

    Args:
        project_name: Namespace of this project's bucket (``<prefix>_<project>_tasks``).
        queues: Queue names in priority order.
        secret_key: Signing key (default ``OMNIQ_SECRET_KEY`` or the project's own key).
        servers, url, user, password, token, user_credentials, nkeys_seed, tls_ca_file,
        tls_cert_file, tls_key_file, tls_hostname, client, name_prefix, connect_timeout,
        request_timeout, replicas, file_storage:
            How to reach NATS; see :class:`omniq_nats._client.NATSConnection`.

    Example:
        >>> queue = NATSTaskQueue(servers=["nats://localhost:4222"])  # doctest: +SKIP
    """

    config_class = NATSTaskQueueConfig
    pushes_work = True

    def _init_component(self) -> None:
        # Called at the end of NATSConnection.__init__.
        self.bucket = f"{self.base}_tasks"
        self._prefix = f"$KV.{self.bucket}."  # a key's subject
        self._kv: Any = None
        self._mirror: Mirror | None = None
        self._starting = asyncio.Lock()  # made again at each connect, in its loop
        # Ids some claim of this instance is taking right now: its other claims skip them.
        self._claiming: set[str] = set()

    async def _connect(self) -> None:
        await self._open()
        self._kv = await self._key_value(self.bucket)
        self._starting = asyncio.Lock()

    async def _live(self) -> Mirror:
        """The live copy, its watch started by the first call that needs it: a process that
        only enqueues and waits for results never receives the bucket's writes."""
        await self.connect()
        if self._mirror is not None:
            return self._mirror
        async with self._starting:
            if self._mirror is None:
                mirror = Mirror(self.bucket)
                with self.errors:
                    await mirror.start(self.js)
                self._mirror = mirror
        return self._mirror

    async def _close(self) -> None:
        mirror, self._mirror = self._mirror, None
        if mirror is not None:
            await mirror.stop()
        await self._shut()

    async def _sync(self) -> Mirror:
        """The live copy, once it holds every write finished before this call."""
        await self._live()
        return await self._catch_up()

    async def _catch_up(self) -> Mirror:
        mirror = self._mirror
        assert mirror is not None
        assert self.requests is not None
        with self.errors:
            target = await self.requests.last_sequence(f"KV_{self.bucket}")
        try:
            await mirror.caught_up(target, STALL_SECONDS)
            return mirror
        except TimeoutError:
            logger.info("the watch of %s on %s stalled at %d of %d; starting it again",
                        self.bucket, self.where, mirror.seq, target)
        with self.errors:
            await mirror.restart(self.js)
        try:
            await mirror.caught_up(target, self._request_timeout * 2)
        except TimeoutError:
            raise BackendUnavailableError(
                f"the watch of bucket {self.bucket} on NATS at {self.where} fell behind "
                f"(sequence {mirror.seq} of {target}); retry") from None
        return mirror

    # -- reading and writing one record --------------------------------------------------------
    async def _read(self, task_id: str) -> tuple[int, Task] | None:
        with self.errors:
            try:
                entry = await self._kv.get(_task_key(task_id))
            except _Missing:
                return None
        if entry.value is None:
            return None
        return entry.revision, decode_task(entry.value, task_id)

    async def _swap(self, last: int, task: Task) -> int:
        """Write ``task`` if its record is still at revision ``last``; its new revision, or 0."""
        return (await self._swap_many([(last, task)]))[0]

    async def _swap_many(self, writes: Sequence[tuple[int, Task]]) -> list[int]:
        """:meth:`_swap` of every ``(last, task)``, all in flight at once (the first error
        other than a refusal is raised once every reply is in)."""
        assert self.requests is not None
        with self.errors:
            done = await self.requests.put_many(
                [(self._prefix + _task_key(t.id), _encode(t), last) for last, t in writes])
        failed = [e for e in done if isinstance(e, Exception) and not isinstance(e, _Stale)]
        for (_, task), revision in zip(writes, done, strict=True):
            if isinstance(revision, int) and self._mirror is not None:
                self._mirror.apply_task(revision, task)
        if failed:
            with self.errors:
                raise failed[0]
        return [r if isinstance(r, int) else 0 for r in done]

    async def _change(self, task_id: str, change: Callable[[Task], Task | None]) -> Task | None:
        """Compare-and-set loop: ``change(stored)`` (None: leave it) until it lands. Starts
        from the live copy (a stale copy only costs a failed compare-and-set)."""
        return (await self._change_at(task_id, change))[0]

    async def _change_at(self, task_id: str, change: Callable[[Task], Task | None]
                         ) -> tuple[Task | None, int]:
        """:meth:`_change`, and the revision written (0 if none)."""
        await self.connect()
        held = None if self._mirror is None else self._mirror.tasks.get(task_id)
        while True:
            if held is None:
                held = await self._read(task_id)
                if held is None:
                    return None, 0
            revision, stored = held
            new = change(_copy(stored))
            if new is None:
                fresh = await self._read(task_id)
                if fresh is None or fresh[0] == revision:
                    return None, 0  # the record really says no
                held = fresh
                continue
            written = await self._swap(revision, new)
            if written:
                return new, written
            held = None

    # -- tasks ---------------------------------------------------------------------------------
    async def add_tasks(self, tasks: Sequence[Task]) -> list[bool]:
        """A create per task (refused by the server when the key exists), many in flight."""
        await self.connect()
        assert self.requests is not None
        inserted: list[bool] = []
        encoded = [(task, _task_key(task.id), _encode(task)) for task in tasks]
        self._refuse_oversized(encoded)  # before any is stored: all of them, or none
        with self.errors:
            for start in range(0, len(tasks), ADD_CONCURRENCY):
                chunk = encoded[start:start + ADD_CONCURRENCY]
                done = await self.requests.put_many(
                    [(self._prefix + key, value, 0) for _, key, value in chunk])
                for (task, key, value), revision in zip(chunk, done, strict=True):
                    if isinstance(revision, _Stale):  # the key exists, or holds a tombstone
                        try:
                            revision = await self._kv.create(key, value)  # nats-py's: over one
                        except _Stale:
                            inserted.append(False)
                            continue
                    elif isinstance(revision, Exception):
                        raise revision
                    if self._mirror is not None:
                        self._mirror.apply_task(revision, task)
                    inserted.append(True)
        return inserted

    def _refuse_oversized(self, chunk: Sequence[tuple[Task, str, bytes]]) -> None:
        limit = self._payload_limit()
        for task, _, value in chunk:
            if len(value) > limit:
                raise ConfigError(
                    f"task {task.id} ({task.func_name}) is {len(value):,} bytes encoded, more "
                    f"than the {limit:,} this NATS server takes in a message (its max_payload, "
                    "less room for the record)", field="args", value=f"{len(value):,} bytes",
                    expected="pass a reference to the data (a path, a URL, a key) rather than "
                             "the data, or raise max_payload in the server's configuration")

    async def claim(self, queues: Sequence[str], *, worker_id: str, lease: float,
                    now: datetime, limit: int = 1) -> list[Task]:
        return await self._claim_from(await self._sync(), queues, worker_id=worker_id,
                                      lease=lease, now=now, limit=limit)

    async def claim_when_ready(self, queues: Sequence[str], *, worker_id: str, lease: float,
                               limit: int, timeout: float) -> list[Task]:
        """:meth:`wait_for_work` (which brings the live copy up to date first), then a claim
        from the copy as the watch left it, without asking the server again: what the copy
        has not applied yet wakes the next wait at once."""
        await self.wait_for_work(queues, timeout)
        mirror = self._mirror
        if mirror is None:  # closed meanwhile: connect again, the plain way
            return await self.claim(queues, worker_id=worker_id, lease=lease, now=utcnow(),
                                    limit=limit)
        return await self._claim_from(mirror, queues, worker_id=worker_id, lease=lease,
                                      now=utcnow(), limit=limit)

    async def _claim_from(self, mirror: Mirror, queues: Sequence[str], *, worker_id: str,
                          lease: float, now: datetime, limit: int) -> list[Task]:
        expires = now + timedelta(seconds=lease)
        claimed: list[Task] = []
        for queue in queues:
            while len(claimed) < limit:
                chosen = mirror.candidates(queue, now, limit - len(claimed), self._claiming)
                if not chosen:
                    break
                ids = [t.id for _, t in chosen]
                self._claiming.update(ids)
                try:
                    leased = [(revision, _copy(
                        task, status=_RUNNING, attempts=task.attempts + 1, worker_id=worker_id,
                        started_at=now, lease_expires_at=expires)) for revision, task in chosen]
                    for (_, task), written in zip(leased, await self._swap_many(leased),
                                                  strict=True):
                        if written:
                            claimed.append(task)
                            continue
                        # Someone else wrote it first: refresh the copy so the next look
                        # sees what they did.
                        fresh = await self._read(task.id)
                        if fresh is not None:
                            mirror.apply_task(*fresh)
                finally:
                    self._claiming.difference_update(ids)
            if len(claimed) >= limit:
                break
        return claimed

    async def get_task(self, task_id: str) -> Task | None:
        await self.connect()
        held = await self._read(task_id)
        return None if held is None else held[1]

    async def update_task(self, task: Task, *, expect_status: Collection[TaskStatus],
                          expect_attempts: int | None = None) -> bool:
        def check(stored: Task) -> Task | None:
            if stored.status not in expect_status:
                return None
            if expect_attempts is not None and stored.attempts != expect_attempts:
                return None
            return task

        return await self._change(task.id, check) is not None

    async def finish_tasks(self, updates: Sequence[tuple[Task, int]],
                           results: Sequence[ResultRecord | None] | None = None
                           ) -> list[Finished]:
        """The batch's compare-and-sets in flight together; then, once the live copy holds
        the last of them, whether each task has dependents (a dependent added later reads
        its parent after its own write, so it settles itself)."""
        if not updates:
            return []

        def fenced(task: Task, attempt: int) -> Callable[[Task], Task | None]:
            return lambda stored: task if stored.status == _RUNNING \
                and stored.attempts == attempt else None

        mirror = await self._live()
        # First together, each at the revision the copy holds when it shows the attempt
        # running; what that misses (a stale copy, another write first) goes one by one.
        first = [i for i, (task, attempt) in enumerate(updates)
                 if (held := mirror.tasks.get(task.id)) is not None
                 and fenced(task, attempt)(held[1]) is not None]
        swapped = await self._swap_many([(mirror.tasks[updates[i][0].id][0], updates[i][0])
                                         for i in first])
        written: list[tuple[Task | None, int]] = [(None, 0)] * len(updates)
        for i, revision in zip(first, swapped, strict=True):
            if revision:
                written[i] = (updates[i][0], revision)
        rest = [i for i, (_, revision) in enumerate(written) if not revision]
        for i, done in zip(rest, await asyncio.gather(*(
                self._change_at(updates[i][0].id, fenced(*updates[i])) for i in rest)),
                strict=True):
            written[i] = done
        latest = max(revision for _, revision in written)
        try:
            await mirror.caught_up(latest, self._request_timeout)
            sure = True
        except TimeoutError:
            sure = False  # the safe answer below
        return [Finished.FENCED if new is None else Finished.WRITTEN
                if sure and not mirror.children.get(task.id)
                else Finished.WRITTEN_WITH_DEPENDENTS
                for (task, _), (new, _) in zip(updates, written, strict=True)]

    async def modify_running(self, task_id: str, attempts: int,
                             change: Callable[[Task], Task]) -> Task | None:
        """A compare-and-set on the record's revision, tried again while other writes land."""
        def check(stored: Task) -> Task | None:
            if stored.status != _RUNNING or stored.attempts != attempts:
                return None
            return change(stored)

        return await self._change(task_id, check)

    async def list_tasks(self, *, queue_name: str | None = None,
                         status: TaskStatus | None = None, limit: int = 100,
                         offset: int = 0) -> list[Task]:
        if limit <= 0:
            return []
        mirror = await self._sync()
        ids = sorted(mirror.ids(queue_name, TaskStatus(status) if status else None))
        return [_copy(mirror.tasks[i][1]) for i in ids[offset:offset + limit]]

    async def page_tasks(self, *, queue_name: str | None = None,
                         status: TaskStatus | None = None, after: str | None = None,
                         descending: bool = False, limit: int = 100) -> list[Task]:
        if limit <= 0:
            return []
        mirror = await self._sync()
        ids = mirror.ids(queue_name, TaskStatus(status) if status else None)
        if after is not None:
            ids = [i for i in ids if (i < after if descending else i > after)]
        page = heapq.nlargest(limit, ids) if descending else heapq.nsmallest(limit, ids)
        return [_copy(mirror.tasks[i][1]) for i in page]

    async def task_counts(self) -> dict[str, dict[TaskStatus, int]]:
        mirror = await self._sync()
        counts: dict[str, dict[TaskStatus, int]] = {}
        for (queue, status), ids in mirror.index.items():
            if ids:
                counts.setdefault(queue, {})[status] = len(ids)
        return counts

    async def count_tasks(self, *, queue_name: str | None = None,
                          status: TaskStatus | None = None) -> int:
        mirror = await self._sync()
        return mirror.count(queue_name, TaskStatus(status) if status else None)

    async def expired_leases(self, now: datetime, limit: int = 100) -> list[Task]:
        mirror = await self._sync()
        return [_copy(t) for t in mirror.expired(now, limit)]

    async def dependents(self, task_id: str) -> list[Task]:
        mirror = await self._sync()
        ids = sorted(mirror.children.get(task_id, ()))
        return [_copy(mirror.tasks[i][1]) for i in ids if i in mirror.tasks]

    async def delete_tasks(self, task_ids: Sequence[str]) -> int:
        await self.connect()
        deleted = 0
        for task_id in task_ids:
            while (held := await self._read(task_id)) is not None:
                with self.errors:
                    try:
                        await self._kv.delete(_task_key(task_id), last=held[0])
                    except _Stale:
                        continue  # written meanwhile (a claim, an update): look again
                deleted += 1
                break
        return deleted

    async def wait_for_work(self, queues: Sequence[str], timeout: float) -> None:
        """Return when the watch applies a task made runnable in ``queues``, when the
        earliest eta there comes due, or after ``timeout``: no polling, no deliveries."""
        try:
            mirror = await self._sync()
        except Exception as exc:  # the claim that follows reports the store's state
            logger.debug("wait for work on %s failed: %s", self.where, exc)
            await asyncio.sleep(min(timeout, 0.5))
            return
        now = utcnow()
        if mirror.candidates_exist(queues, now, self._claiming):
            return
        eta = mirror.next_eta(queues)
        if eta is not None:
            timeout = min(timeout, max((eta - now).total_seconds() + 0.001, 0.0))
        await mirror.wait_for_work(queues, timeout)

    # -- schedules -----------------------------------------------------------------------------
    async def add_schedule(self, schedule: Schedule) -> bool:
        await self.connect()
        with self.errors:
            try:
                await self._kv.create(_schedule_key(schedule.id), _encode(schedule))
            except _Stale:
                return False
        return True

    async def _read_schedule(self, schedule_id: str) -> tuple[int, Schedule] | None:
        await self.connect()
        with self.errors:
            try:
                entry = await self._kv.get(_schedule_key(schedule_id))
            except _Missing:
                return None
        if entry.value is None:
            return None
        return entry.revision, _decode_schedule(entry.value)

    async def get_schedule(self, schedule_id: str) -> Schedule | None:
        held = await self._read_schedule(schedule_id)
        return None if held is None else held[1]

    async def list_schedules(self, *, status: ScheduleStatus | None = None) -> list[Schedule]:
        mirror = await self._sync()
        found = [s for _, s in mirror.schedules.values() if status is None or s.status == status]
        return [_copy(s) for s in sorted(found, key=lambda s: s.id)]

    async def update_schedule(self, schedule: Schedule, *, expect_version: int) -> bool:
        held = await self._read_schedule(schedule.id)
        if held is None or held[1].version != expect_version:
            return False
        with self.errors:
            try:
                await self._kv.update(_schedule_key(schedule.id), _encode(schedule),
                                      last=held[0])
            except _Stale:
                return False  # another writer advanced it: its version differs now
        return True

    async def delete_schedule(self, schedule_id: str) -> bool:
        held = await self._read_schedule(schedule_id)
        if held is None:
            return False
        with self.errors:
            try:
                await self._kv.delete(_schedule_key(schedule_id), last=held[0])
            except _Stale:
                return await self.delete_schedule(schedule_id)
        return True

    async def due_schedules(self, now: datetime, limit: int = 100) -> list[Schedule]:
        mirror = await self._sync()
        return [_copy(s) for s in mirror.due_schedules(now, limit)]

    # -- the worker registry -------------------------------------------------------------------
    async def put_worker(self, worker: WorkerInfo) -> None:
        await self.connect()
        with self.errors:
            await self._kv.put(_worker_key(worker.id), _encode(worker))

    async def list_workers(self) -> list[WorkerInfo]:
        mirror = await self._sync()
        return decode_workers(mirror.workers.values())

    async def delete_workers(self, worker_ids: Sequence[str]) -> int:
        mirror = await self._sync()
        present = [w for w in dict.fromkeys(worker_ids) if w in mirror.workers]
        with self.errors:
            for worker_id in present:
                await self._kv.delete(_worker_key(worker_id))
        return len(present)

    def default_result_store(self) -> AsyncNATSResultStore:
        """A NATS result store on the same servers, for ``OmniQ(task_queue=...)`` alone."""
        return AsyncNATSResultStore(project_name=self.project_name,
                                    secret_key=self._secret_key, **self.connection_settings())


class NATSTaskQueue(TaskQueue, twin_of=AsyncNATSTaskQueue):
    """Blocking twin of :class:`AsyncNATSTaskQueue`."""


__all__ = ["AsyncNATSTaskQueue", "NATSTaskQueue", "NATSTaskQueueConfig"]

