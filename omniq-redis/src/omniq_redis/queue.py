"""The ``redis`` task queue: Lua scripts over sorted sets, so every claim, lease renewal and
fenced write is one atomic step and costs the same with a thousand or a million tasks waiting.

Layout (keys under ``omniq:{project}:``, described in ``lua/lib.lua``): a hash per task
holding the msgpack :class:`~omniq.models.Task` and the fields the scripts compare; per queue a
``ready`` sorted set (priority, then eta, then id), a ``delayed`` set by eta and a one-token
``wake`` list that idle workers block on; a ``running`` set by lease expiry; id-ordered
indexes for listing and counting; a set of dependents per parent; schedules in two hashes and
a ``due`` set by next fire time; the worker registry in one hash (``workers``: worker id ->
msgpack :class:`~omniq.models.WorkerInfo`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

import anyio
import msgspec
from omniq.clock import utcnow
from omniq.contract import Finished, ResultRecord
from omniq.models import (
    UNREADABLE,
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
from redis.exceptions import NoScriptError

from ._client import Lane, RedisConnection, from_us, to_us
from ._config import RedisTaskQueueConfig
from .results import AsyncRedisResultStore, put_args

logger = logging.getLogger("omniq.redis")

_encode = msgspec.msgpack.Encoder().encode
_decode_schedule = msgspec.msgpack.Decoder(Schedule).decode
_STATUS = {s.value.encode(): s for s in TaskStatus}
_RUNNING = TaskStatus.RUNNING
_SCRIPTS = ("add", "claim", "update", "renew", "swap", "delete", "sched_add", "sched_update",
            "sched_delete", "put")
_ZERO, _ONE = ord("0"), ord("1")
#: A task's hash fields, in the order ``_task`` takes them.
_FIELDS = ("d", "s", "a", "w", "t", "l")
#: Tasks per script call when enqueueing in bulk (bounds how long one call holds the server).
ADD_CHUNK = 1000


def _codes(reply: bytes) -> list[int]:
    """update.lua's reply: one digit per task (0 refused, 1 written, 2 written and it has
    dependents)."""
    return [c - _ZERO for c in reply]


def _member(task: Task) -> str:
    return f"{max(to_us(task.run_at), 0):017d}|{task.id}"


def _lease_us(task: Task) -> str:
    if task.status == _RUNNING and task.lease_expires_at is not None:
        return str(to_us(task.lease_expires_at))
    return ""


@functools.cache
def _expected(statuses: frozenset[TaskStatus]) -> str:
    return ",".join(sorted(TaskStatus(s).value for s in statuses))


class AsyncRedisTaskQueue(RedisConnection, AsyncTaskQueue):
    """Tasks, schedules and dependency state in Redis (``redis.asyncio``).

    Args:
        project_name: Namespace of this project's keys (``omniq:{project}:...``).
        queues: Queue names in priority order.
        secret_key: Signing key (default ``OMNIQ_SECRET_KEY`` or the project's own key).
        url, host, port, db, username, password, ssl, client, sentinels, sentinel_master,
        key_prefix, socket_connect_timeout, socket_timeout, max_connections, retries:
            How to reach Redis; see :class:`omniq_redis._client.RedisConnection`.

    Example:
        >>> queue = RedisTaskQueue(host="localhost", port=6379)  # doctest: +SKIP
        >>> queue = RedisTaskQueue(url="redis://:secret@cache:6379/2",
        ...                        queues=["high", "low"])  # doctest: +SKIP
    """

    config_class = RedisTaskQueueConfig
    pushes_work = True
    script_names = _SCRIPTS

    def _init_state(self) -> None:
        # Earliest delayed eta (us) seen by the last claim on a list of queues: an idle
        # worker wakes up for it without being told.
        self._next_eta: dict[tuple[str, ...], int | None] = {}
        self._waiter: Lane | None = None  # the connection idle claims block on

    async def _close(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            await waiter.close()
        await super()._close()

    async def _run(self, script: str, args: list[Any]) -> Any:
        with self.errors:
            return await self.lane.script(self._scripts[script], self._keys, args)

    # -- decoding ------------------------------------------------------------------------------
    @staticmethod
    def _task(task_id: str, d: bytes, s: bytes, a: bytes | int, w: bytes | None = None,
              t: bytes | None = None, lease: bytes | None = None) -> Task:
        """The stored task: its blob, with the fields a claim or renewal set laid over it."""
        task = decode_task(d, task_id)
        task.status = _STATUS[s]
        task.attempts = int(a)
        if w:
            task.worker_id = w.decode()
        if t:
            task.started_at = from_us(t)
        if lease:
            task.lease_expires_at = from_us(lease)
        return task

    async def _fetch(self, ids: Sequence[bytes | str]) -> list[Task]:
        if not ids:
            return []
        t = self.prefix + "t:"
        names = [i.decode() if isinstance(i, bytes) else i for i in ids]
        with self.errors:
            async with self.client.pipeline(transaction=False) as pipe:
                for task_id in names:
                    pipe.hmget(t + task_id, *_FIELDS)
                rows = await pipe.execute()
        return [self._task(i, *row) for i, row in zip(names, rows, strict=True)
                if row[0] is not None]

    # -- tasks ---------------------------------------------------------------------------------
    async def add_tasks(self, tasks: Sequence[Task]) -> list[bool]:
        await self.connect()
        inserted: list[bool] = []
        now = to_us(utcnow())
        for start in range(0, len(tasks), ADD_CHUNK):
            chunk = tasks[start:start + ADD_CHUNK]
            blobs = [_encode(t) for t in chunk]
            meta = [(t.id, t.status.value, t.attempts, t.queue_name, t.priority, _member(t),
                     _lease_us(t), t.depends_on, len(b)) for t, b in zip(chunk, blobs, strict=True)]
            reply = await self._run("add", [self.prefix, now, _encode(meta), b"".join(blobs)])
            inserted += [c == _ONE for c in reply]
        return inserted

    async def claim(self, queues: Sequence[str], *, worker_id: str, lease: float,
                    now: datetime, limit: int = 1) -> list[Task]:
        await self.connect()
        lease_us = round(lease * 1e6)
        reply = await self._run("claim", [self.prefix, to_us(now), to_us(now) + lease_us,
                                          worker_id, limit, *queues])
        return self._claimed(reply, queues, worker_id, lease_us)

    async def claim_when_ready(self, queues: Sequence[str], *, worker_id: str, lease: float,
                               limit: int, timeout: float) -> list[Task]:
        """The blocking pop and the claim sent together, on a connection of their own: the
        claim runs on the server the moment the pop returns (one round trip fewer between an
        enqueue and its start), under the server's clock since it runs later than sent."""
        await self.connect()
        wait = self._blocking_wait(queues, timeout)
        if wait is None or wait[1] is not None:  # due now, or our own timer ends the wait
            return await super().claim_when_ready(queues, worker_id=worker_id, lease=lease,
                                                  limit=limit, timeout=timeout)
        if self._waiter is None:
            # Its own connection: a stop cancels the wait by dropping it, and the server then
            # drops the claim queued behind the pop (were the pop served in that instant, the
            # claimed tasks come back when their lease expires, as a crashed worker's do).
            self._waiter = Lane(self.client, self._retries)
        script = self._scripts["claim"]
        claim = ("EVALSHA", script.sha, 1, *self._keys, self.prefix, "", round(lease * 1e6),
                 worker_id, limit, *queues)
        with self.errors:
            try:
                _, reply = await self._waiter.pipeline(
                    ("BLPOP", *self._wake_keys(queues), round(wait[0], 3)), claim)
            except NoScriptError:  # a restarted server's empty script cache: the plain way
                return await self.claim(queues, worker_id=worker_id, lease=lease,
                                        now=utcnow(), limit=limit)
        return self._claimed(reply, queues, worker_id, round(lease * 1e6))

    def _claimed(self, reply: bytes, queues: Sequence[str], worker_id: str,
                 lease_us: int) -> list[Task]:
        """Decode claim.lua's reply: "<next eta> <now>\\n", then per task
        "<attempt> <length> <queue> <id>\\n<blob>"."""
        at = reply.index(b"\n")
        eta, now_us = reply[:at].split(b" ")
        self._next_eta[tuple(queues)] = int(eta) if eta else None
        now, expires = from_us(now_us), from_us(int(now_us) + lease_us)
        claimed = []
        end = len(reply)
        at += 1
        while at < end:
            eol = reply.index(b"\n", at)
            attempt, size, queue, task_id = reply[at:eol].split(b" ", 3)
            at = eol + 1 + int(size)
            task = decode_task(reply[eol + 1:at], task_id.decode())
            if task.func_name == UNREADABLE:
                task.queue_name = queue.decode()
            task.status = _RUNNING
            task.attempts = int(attempt)
            task.worker_id = worker_id
            task.started_at = now
            task.lease_expires_at = expires
            claimed.append(task)
        return claimed

    async def get_task(self, task_id: str) -> Task | None:
        await self.connect()
        with self.errors:
            row = await self.lane.execute("HMGET", self.prefix + "t:" + task_id, *_FIELDS)
        return None if row[0] is None else self._task(task_id, *row)

    async def update_task(self, task: Task, *, expect_status: Collection[TaskStatus],
                          expect_attempts: int | None = None) -> bool:
        await self.connect()
        args = self._update_args([(task, expect_status, expect_attempts)])
        return _codes(await self._run("update", args))[0] > 0

    def _update_args(self, updates: Sequence[tuple[Task, Collection[TaskStatus], int | None]]
                     ) -> list[Any]:
        blobs = [_encode(u[0]) for u in updates]
        meta = [(t.id, _expected(frozenset(expect)), "" if attempts is None else str(attempts),
                 t.status.value, t.attempts, t.queue_name, t.priority, _member(t), _lease_us(t),
                 len(blob)) for (t, expect, attempts), blob in zip(updates, blobs, strict=True)]
        return [self.prefix, to_us(utcnow()), _encode(meta), b"".join(blobs)]

    async def finish_tasks(self, updates: Sequence[tuple[Task, int]],
                           results: Sequence[ResultRecord | None] | None = None
                           ) -> list[Finished]:
        """The batch in one script call; with ``results``, put.lua follows it in the same
        pipeline and writes each result only if its task's finish landed (it checks the stored
        status and attempt)."""
        if not updates:
            return []
        await self.connect()
        calls = [(self._scripts["update"], self._update_args(
            [(task, (_RUNNING,), attempt) for task, attempt in updates]))]
        items = [(r, (task.status.value, attempt))
                 for (task, attempt), r in zip(updates, results or (), strict=False) if r]
        if items:
            calls.append((self._scripts["put"], put_args(self.prefix, [r for r, _ in items],
                                                         [landed for _, landed in items])))
        with self.errors:
            replies = await self.lane.scripts(self._keys, *calls)
        return [Finished(code) for code in _codes(replies[0])]

    def writes_results_for(self, store: Any) -> bool:
        """Yes for a Redis result store of this project on this server."""
        return (isinstance(store, AsyncRedisResultStore) and store.prefix == self.prefix
                and store.where == self.where)

    async def renew_lease(self, task_id: str, attempts: int,
                          expires_at: datetime) -> Task | None:
        """One fenced script call; a lease only moves forward (a later expiry is kept)."""
        await self.connect()
        row = await self._run("renew", [self.prefix, task_id, attempts, to_us(expires_at)])
        if row is None:
            return None
        return self._task(task_id, row[0], b"running", attempts, row[1], row[2], row[3])

    async def modify_running(self, task_id: str, attempts: int,
                             change: Callable[[Task], Task]) -> Task | None:
        """A compare-and-set on the stored blob (``swap`` script), tried again while other
        writes land."""
        await self.connect()
        while True:
            with self.errors:
                row = await self.lane.execute("HMGET", self.prefix + "t:" + task_id, *_FIELDS)
            if row[0] is None or row[1] != b"running" or int(row[2]) != attempts:
                return None
            new = change(self._task(task_id, *row))
            code = await self._run("swap", [self.prefix, task_id, attempts, row[0], _encode(new)])
            if code != 0:
                return new if code == 1 else None

    async def list_tasks(self, *, queue_name: str | None = None,
                         status: TaskStatus | None = None, limit: int = 100,
                         offset: int = 0) -> list[Task]:
        await self.connect()
        if limit <= 0:
            return []
        with self.errors:
            ids = await self.client.zrange(self._index(queue_name, status), offset,
                                           offset + limit - 1)
        return await self._fetch(ids)

    async def page_tasks(self, *, queue_name: str | None = None,
                         status: TaskStatus | None = None, after: str | None = None,
                         descending: bool = False, limit: int = 100) -> list[Task]:
        """A range of the id-ordered index of the selection (its members all score 0, so
        they sort by id and a range starts right after ``after``)."""
        await self.connect()
        if limit <= 0:
            return []
        key = self._index(queue_name, status)
        with self.errors:
            if descending:
                ids = await self.client.zrevrangebylex(key, f"({after}" if after else "+", "-",
                                                       start=0, num=limit)
            else:
                ids = await self.client.zrangebylex(key, f"({after}" if after else "-", "+",
                                                    start=0, num=limit)
        return await self._fetch(ids)

    async def task_counts(self) -> dict[str, dict[TaskStatus, int]]:
        """The sizes of the per-queue, per-status indexes, for every queue in ``queues``."""
        await self.connect()
        with self.errors:
            queues = sorted(q.decode() for q in await self.client.smembers(self.prefix + "queues"))
            async with self.client.pipeline(transaction=False) as pipe:
                for queue in queues:
                    for status in TaskStatus:
                        pipe.zcard(self._index(queue, status))
                sizes = iter(await pipe.execute())
        counts: dict[str, dict[TaskStatus, int]] = {}
        for queue in queues:
            held = {status: size for status in TaskStatus if (size := int(next(sizes)))}
            if held:
                counts[queue] = held
        return counts

    async def count_tasks(self, *, queue_name: str | None = None,
                          status: TaskStatus | None = None) -> int:
        await self.connect()
        with self.errors:
            return int(await self.client.zcard(self._index(queue_name, status)))

    def _index(self, queue_name: str | None, status: TaskStatus | None) -> str:
        key = f"{self.prefix}x:{queue_name or '*'}"
        return key if status is None else f"{key}:{TaskStatus(status).value}"

    async def expired_leases(self, now: datetime, limit: int = 100) -> list[Task]:
        await self.connect()
        with self.errors:
            ids = await self.client.zrangebyscore(self.prefix + "running", "-inf",
                                                  f"({to_us(now)}", start=0, num=limit)
        return [t for t in await self._fetch(ids) if t.status == _RUNNING]

    async def dependents(self, task_id: str) -> list[Task]:
        await self.connect()
        with self.errors:
            ids = await self.client.smembers(self.prefix + "ch:" + task_id)
        return await self._fetch(sorted(ids))

    async def delete_tasks(self, task_ids: Sequence[str]) -> int:
        if not task_ids:
            return 0
        await self.connect()
        return int(await self._run("delete", [self.prefix, *task_ids]))

    async def wait_for_work(self, queues: Sequence[str], timeout: float) -> None:
        """Block on the queues' wake-up lists (an enqueue or a claim that left work behind
        pushes a token), or until the earliest delayed task is due, or ``timeout``."""
        await self.connect()
        wait = self._blocking_wait(queues, timeout)
        if wait is None:
            return
        timeout, deadline = wait
        try:
            with anyio.move_on_after(deadline):
                await self.client.blpop(self._wake_keys(queues), timeout=round(timeout, 3))
        except Exception as exc:  # the claim that follows reports the store's state
            logger.debug("wait for work on %s failed: %s", self.where, exc)
            await anyio.sleep(min(timeout, 0.5))

    def _wake_keys(self, queues: Sequence[str]) -> list[str]:
        return [f"{self.prefix}wake:{q}" for q in queues]

    def _blocking_wait(self, queues: Sequence[str],
                       timeout: float) -> tuple[float, float | None] | None:
        """How long to block on the wake-up lists, and when our own timer must end the wait
        (an eta due before ``timeout``; else None); None when a delayed task is due now."""
        next_eta = self._next_eta.get(tuple(queues))
        due_in = None if next_eta is None else (next_eta - to_us(utcnow())) / 1e6 + 0.001
        # Stay under a socket timeout if one is set, and above Redis's resolution (0 would
        # mean forever).
        if self._timeouts[1]:
            timeout = min(timeout, max(0.05, self._timeouts[1] - 1.0))
        if due_in is not None and due_in < timeout:
            # Redis times a blocked pop out on its own clock tick (100 ms at the default
            # hz 10): for an eta, our own timer ends the wait on time instead. Cancelling
            # the pop costs that connection a reconnect, once per eta at most.
            if due_in < 0.002:
                return None
            return due_in + 1.0, due_in
        return timeout, None

    # -- schedules -----------------------------------------------------------------------------
    @staticmethod
    def _schedule_args(schedule: Schedule) -> list[Any]:
        nxt = "" if schedule.next_run_at is None else to_us(schedule.next_run_at)
        return [nxt, schedule.status.value, _encode(schedule)]

    async def add_schedule(self, schedule: Schedule) -> bool:
        await self.connect()
        return bool(await self._run("sched_add", [self.prefix, schedule.id, schedule.version,
                                                  *self._schedule_args(schedule)]))

    async def get_schedule(self, schedule_id: str) -> Schedule | None:
        await self.connect()
        with self.errors:
            blob = await self.client.hget(self.prefix + "sc", schedule_id)
        return None if blob is None else _decode_schedule(blob)

    async def list_schedules(self, *, status: ScheduleStatus | None = None) -> list[Schedule]:
        await self.connect()
        with self.errors:
            blobs = await self.client.hvals(self.prefix + "sc")
        found = [s for s in map(_decode_schedule, blobs) if status is None or s.status == status]
        return sorted(found, key=lambda s: s.id)

    async def update_schedule(self, schedule: Schedule, *, expect_version: int) -> bool:
        await self.connect()
        return bool(await self._run("sched_update", [
            self.prefix, schedule.id, expect_version, schedule.version,
            *self._schedule_args(schedule)]))

    async def delete_schedule(self, schedule_id: str) -> bool:
        await self.connect()
        return bool(await self._run("sched_delete", [self.prefix, schedule_id]))

    async def due_schedules(self, now: datetime, limit: int = 100) -> list[Schedule]:
        await self.connect()
        with self.errors:
            ids = await self.client.zrangebyscore(self.prefix + "due", "-inf", to_us(now),
                                                  start=0, num=limit)
            if not ids:
                return []
            blobs = await self.client.hmget(self.prefix + "sc", ids)
        due = [_decode_schedule(b) for b in blobs if b is not None]
        return [s for s in due if s.status == ScheduleStatus.ACTIVE]

    # -- the worker registry -------------------------------------------------------------------
    async def put_worker(self, worker: WorkerInfo) -> None:
        await self.connect()
        with self.errors:
            await self.client.hset(self.prefix + "workers", worker.id, _encode(worker))

    async def list_workers(self) -> list[WorkerInfo]:
        await self.connect()
        with self.errors:
            blobs = await self.client.hvals(self.prefix + "workers")
        return decode_workers(blobs)

    async def delete_workers(self, worker_ids: Sequence[str]) -> int:
        if not worker_ids:
            return 0
        await self.connect()
        with self.errors:
            return int(await self.client.hdel(self.prefix + "workers", *worker_ids))

    def default_result_store(self) -> AsyncRedisResultStore:
        """A Redis result store on the same server, for ``OmniQ(task_queue=...)`` alone."""
        return AsyncRedisResultStore(project_name=self.project_name,
                                       secret_key=self._secret_key, **self._settings())

    def _settings(self) -> dict[str, Any]:
        # The key prefix goes along with a client of the user's too: results stay under it
        # (and are written in the same script call as the finish).
        shared = {"key_prefix": self.prefix.split(":{", 1)[0], "retries": self._retries}
        if self._given_client is not None:
            return {"client": self._given_client, **shared}
        return {"url": self._url, **{k: v for k, v in self._opts.items() if v is not None},
                "sentinels": self._sentinels, "sentinel_master": self._sentinel_master,
                "socket_connect_timeout": self._timeouts[0],
                "socket_timeout": self._timeouts[1], "max_connections": self._max_connections,
                **shared}


class RedisTaskQueue(TaskQueue, twin_of=AsyncRedisTaskQueue):
    """Blocking twin of :class:`AsyncRedisTaskQueue`."""


__all__ = [ "AsyncRedisTaskQueue", "RedisTaskQueue",
           "RedisTaskQueueConfig"]
