"""A process's live copy of a project's task bucket, kept by a KV watch.

The bucket (records keyed ``t.<task id>``, ``s.<schedule id>`` and, for the worker registry,
``w.<worker id>``) is the truth; every write
to it is a compare-and-set on the key's revision. The copy answers what JetStream cannot
(ordered claims over priority, eta and id; listing and counting by queue and status; leases
past their expiry; dependents), and a claim or update it chose is still decided on the
server, by the revision: a stale copy can only make a compare-and-set fail, never succeed
wrongly. Each query first waits until the copy has applied the stream's last sequence, so it
sees every write that finished before it was asked.

The watch is an ordered push consumer (server-side flow control; re-created from the last
applied sequence after a reconnect); it also wakes idle workers the moment a task becomes
runnable, and the copy knows the earliest eta, so waiting for delayed work costs nothing.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import anyio
import msgspec
from nats.js import api
from omniq.models import Schedule, ScheduleStatus, Task, TaskStatus, decode_task

from ._client import pause_when_idle, untoken

logger = logging.getLogger("omniq.nats")

_decode_schedule = msgspec.msgpack.Decoder(Schedule).decode
RUNNABLE = (TaskStatus.PENDING, TaskStatus.RETRYING)


class Mirror:
    """Tasks and schedules by id, with the indexes queries need."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        self.prefix = f"$KV.{bucket}."
        self.tasks: dict[str, tuple[int, Task]] = {}
        self.schedules: dict[str, tuple[int, Schedule]] = {}
        #: Worker registry records, still encoded (decoded when listed).
        self.workers: dict[str, bytes] = {}
        #: (queue, status) -> ids; parent id -> child ids.
        self.index: dict[tuple[str, TaskStatus], set[str]] = {}
        self.children: dict[str, set[str]] = {}
        #: Per queue, runnable tasks as (eta, -priority, id, revision) in an eta heap, and
        #: those found due as (-priority, eta, id, revision) in a ready heap (claim order).
        #: Entries whose revision is no longer the task's are dropped when met.
        self._delayed: dict[str, list[tuple[datetime, int, str, int]]] = {}
        self._ready: dict[str, list[tuple[int, datetime, str, int]]] = {}
        #: Last stream sequence applied.
        self.seq = 0
        self._seq_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._work_waiters: list[tuple[frozenset[str], asyncio.Future[None]]] = []
        self._sub: Any = None

    # -- the watch -----------------------------------------------------------------------------
    async def start(self, js: Any) -> None:
        if self.seq == 0:  # the latest record of every key
            config = api.ConsumerConfig(deliver_policy=api.DeliverPolicy.LAST_PER_SUBJECT)
        else:  # every write since the last one applied
            config = api.ConsumerConfig(deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
                                        opt_start_seq=self.seq + 1)
        self._sub = await js.subscribe(
            self.prefix + ">", stream=f"KV_{self.bucket}", cb=self._on_message,
            ordered_consumer=True, inactive_threshold=300.0, config=config)
        pause_when_idle(self._sub)

    async def restart(self, js: Any) -> None:
        """A new watch from the last applied write: the server lost the old consumer (a
        restart), or it stalled."""
        old, self._sub = self._sub, None
        if old is not None:
            try:
                await old.unsubscribe()
            except Exception as exc:  # its connection or consumer is gone already
                logger.debug("dropping a stalled task watch: %s", exc)
        await self.start(js)

    async def stop(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            try:
                await sub.unsubscribe()
            except Exception as exc:  # the connection may be gone already
                logger.debug("stopping the task watch: %s", exc)
        for _, future in self._seq_waiters + self._work_waiters:
            future.cancel()
        self._seq_waiters, self._work_waiters = [], []

    async def _on_message(self, msg: Any) -> None:
        key = msg.subject[len(self.prefix):]
        op = msg.headers.get("KV-Operation") if msg.headers else None
        self.apply(key, msg.metadata.sequence.stream, None if op else msg.data)

    async def caught_up(self, target: int, timeout: float) -> None:
        """Return once the sequence ``target`` is applied (TimeoutError after ``timeout``)."""
        if self.seq >= target:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq_waiters.append((target, future))
        # anyio's timeout, not asyncio.wait_for: on Python 3.11 that can swallow a
        # cancellation arriving as the future completes (a worker then never stops).
        with anyio.fail_after(timeout):
            await future

    # -- applying changes ----------------------------------------------------------------------
    def apply(self, key: str, revision: int, data: bytes | None) -> None:
        """A value (``data``) or a deletion (None) of ``key`` at stream sequence ``revision``;
        older news than what the copy holds is ignored."""
        kind, _, ident = key.partition(".")
        ident = untoken(ident)
        if kind == "t":
            held = self.tasks.get(ident)
            if held is None or held[0] < revision:
                self._set_task(ident, revision,
                               None if data is None else decode_task(data, ident))
        elif kind == "s":
            held_s = self.schedules.get(ident)
            if held_s is None or held_s[0] < revision:
                if data is None:
                    self.schedules.pop(ident, None)
                else:
                    self.schedules[ident] = (revision, _decode_schedule(data))
        elif kind == "w":
            # A key's messages arrive in revision order, so the latest one is the truth.
            if data is None:
                self.workers.pop(ident, None)
            else:
                self.workers[ident] = data
        if revision > self.seq:
            self.seq = revision
            if self._seq_waiters:
                waiting = self._seq_waiters
                self._seq_waiters = [(t, f) for t, f in waiting if t > revision and not f.done()]
                for target, future in waiting:
                    if target <= revision and not future.done():
                        future.set_result(None)

    def apply_task(self, revision: int, task: Task) -> None:
        """Our own write, known before the watch brings it back."""
        held = self.tasks.get(task.id)
        if held is None or held[0] < revision:
            # A copy: the caller keeps (and may change) its own object.
            self._set_task(task.id, revision, msgspec.structs.replace(task))

    def _set_task(self, task_id: str, revision: int, task: Task | None) -> None:
        held = self.tasks.get(task_id)
        if held is not None:
            old = held[1]
            self.index.get((old.queue_name, old.status), set()).discard(task_id)
            for parent in old.depends_on:
                self.children.get(parent, set()).discard(task_id)
        if task is None:
            self.tasks.pop(task_id, None)
            return
        self.tasks[task_id] = (revision, task)
        self.index.setdefault((task.queue_name, task.status), set()).add(task_id)
        for parent in task.depends_on:
            self.children.setdefault(parent, set()).add(task_id)
        if task.status in RUNNABLE:
            self._index_runnable(task, revision)
            if self._work_waiters:
                self.wake(task.queue_name)

    # -- waking idle workers -------------------------------------------------------------------
    def wake(self, queue: str) -> None:
        waiting, self._work_waiters = self._work_waiters, []
        for queues, future in waiting:
            if future.done():
                continue
            if queue in queues:
                future.set_result(None)
            else:
                self._work_waiters.append((queues, future))

    async def wait_for_work(self, queues: Sequence[str], timeout: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (frozenset(queues), future)
        self._work_waiters.append(entry)
        try:
            with anyio.move_on_after(timeout):
                await future
        finally:
            if entry in self._work_waiters:
                self._work_waiters.remove(entry)

    # -- queries -------------------------------------------------------------------------------
    def ids(self, queue: str | None, status: TaskStatus | None) -> Iterable[str]:
        if queue is None and status is None:
            return self.tasks.keys()
        found: set[str] = set()
        for (q, s), ids in self.index.items():
            if (queue is None or q == queue) and (status is None or s == status):
                found |= ids
        return found

    def count(self, queue: str | None, status: TaskStatus | None) -> int:
        if queue is None and status is None:
            return len(self.tasks)
        return sum(len(ids) for (q, s), ids in self.index.items()
                   if (queue is None or q == queue) and (status is None or s == status))

    def candidates(self, queue: str, now: datetime, count: int,
                   skip: set[str]) -> list[tuple[int, Task]]:
        """Up to ``count`` runnable tasks of ``queue`` due at ``now``, in claim order."""
        self._promote(queue, now)
        ready = self._ready.get(queue)
        if not ready:
            return []
        taken: list[tuple[int, Task]] = []
        kept = []
        while ready and len(taken) < count:
            entry = heapq.heappop(ready)
            held = self.tasks.get(entry[2])
            if held is None or held[0] != entry[3]:
                continue  # superseded by a later write
            kept.append(entry)  # dropped once the claim's write supersedes it
            if entry[2] not in skip and held[1].run_at <= now:
                taken.append(held)
        for entry in kept:
            heapq.heappush(ready, entry)
        return taken

    def _promote(self, queue: str, now: datetime) -> None:
        """Move the tasks of ``queue`` due at ``now`` from its eta heap to its ready heap."""
        delayed = self._delayed.get(queue)
        if not delayed:
            return
        ready = self._ready.setdefault(queue, [])
        while delayed and delayed[0][0] <= now:
            run_at, priority, task_id, revision = heapq.heappop(delayed)
            held = self.tasks.get(task_id)
            if held is not None and held[0] == revision:
                heapq.heappush(ready, (priority, run_at, task_id, revision))

    def _index_runnable(self, task: Task, revision: int) -> None:
        delayed = self._delayed.setdefault(task.queue_name, [])
        heapq.heappush(delayed, (task.run_at, -task.priority, task.id, revision))
        if len(delayed) > 2 * len(self.tasks) + 1024:  # mostly superseded entries: rebuild
            self._rebuild(task.queue_name)

    def _rebuild(self, queue: str) -> None:
        live = [(t.run_at, -t.priority, t.id, rev) for rev, t in
                (self.tasks[i] for s in RUNNABLE for i in self.index.get((queue, s), ()))]
        heapq.heapify(live)
        self._delayed[queue] = live
        self._ready[queue] = []

    def candidates_exist(self, queues: Sequence[str], now: datetime, skip: set[str]) -> bool:
        return any(self.candidates(q, now, 1, skip) for q in queues)

    def next_eta(self, queues: Sequence[str]) -> datetime | None:
        """The earliest eta of a delayed task in ``queues``."""
        etas = []
        for queue in queues:
            delayed = self._delayed.get(queue)
            while delayed:
                run_at, _, task_id, revision = delayed[0]
                held = self.tasks.get(task_id)
                if held is not None and held[0] == revision:
                    etas.append(run_at)
                    break
                heapq.heappop(delayed)
        return min(etas, default=None)

    def expired(self, now: datetime, limit: int) -> list[Task]:
        running = [self.tasks[i][1] for i in self.ids(None, TaskStatus.RUNNING)]
        late = [t for t in running if t.lease_expires_at is not None and t.lease_expires_at < now]
        return heapq.nsmallest(limit, late, key=lambda t: (t.lease_expires_at, t.id))

    def due_schedules(self, now: datetime, limit: int) -> list[Schedule]:
        due = [s for _, s in self.schedules.values() if s.status == ScheduleStatus.ACTIVE
               and s.next_run_at is not None and s.next_run_at <= now]
        return heapq.nsmallest(limit, due, key=lambda s: (s.next_run_at, s.id))
