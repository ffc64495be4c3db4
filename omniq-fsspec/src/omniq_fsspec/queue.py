"""``AsyncFileTaskQueue``: tasks and schedules as files in a folder of any fsspec store.

Layout under ``<location>/<project>/`` (names made safe by :mod:`._keys`):

* ``tasks/<id>``: the task, msgpack-encoded; authoritative. Everything else is an index entry
  (an empty object) that readers check against this record.
* ``ready/<queue>/<priority>_<eta>_<id>``: a runnable task (pending or retrying) that is due,
  in claim order; ``wait/<queue>/<eta>_<priority>_<id>``: one that was not due when written,
  by eta, moved to ``ready/`` by the claims once due. A claim reads the head of these folders
  (:meth:`._stores.Store.scan`: a listing kept in memory, or one page of an object store), so
  its cost depends neither on the history nor on the backlog.
* ``running/<lease expiry>_<id>``: running tasks by lease expiry (for ``expired_leases``).
* ``status/<status>/<queue>/<id>``: lists and counts by status and queue.
* ``deps/<parent>/<child>``: dependents.
* ``schedules/<id>``: schedules, msgpack-encoded, compare-and-set on the stored version.
* ``workers/<id>``: the worker registry, one msgpack-encoded ``WorkerInfo`` per worker,
  overwritten at each of its heartbeats.

Every change of a task is one compare-and-swap of its record (a claim is one too), with the
index entries its new state needs written before it and those of its old state removed after,
so a crash in between leaves extra entries (dropped when a reader finds them stale), never a
task that no index leads to. ``docs/user_guide/backends/file.qmd`` describes how each store
makes the swap atomic.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import anyio
import msgspec
from omniq.config import get_setting
from omniq.exceptions import ConfigError
from omniq.models import (
    RUNNABLE,
    Schedule,
    ScheduleStatus,
    Task,
    TaskStatus,
    WorkerInfo,
    decode_workers,
    unreadable,
)
from omniq.queue import AsyncTaskQueue
from omniq.sync import TaskQueue

from . import _wakeups
from ._config import _FileLocationConfig
from ._keys import micros, priority_key, safe_name, tail
from ._located import FileLocated
from ._stores import Store
from .results import AsyncFileResultStore

replace = msgspec.structs.replace
_schedule = msgspec.msgpack.Decoder(Schedule)
_encode = msgspec.msgpack.encode
#: Conditional writes retried on object stores when another writer changed the record.
RETRIES = 20


class FileTaskQueueConfig(_FileLocationConfig, kw_only=True):
    """Settings of :class:`FileTaskQueue` (``FileTaskQueue.from_config(...)``)."""

    queues: list[str] | None = None
    poll_interval: float | None = None


class AsyncFileTaskQueue(FileLocated, AsyncTaskQueue):
    """Task queue in a folder: a local directory (safe between the processes of one machine),
    ``memory://`` (this process), an S3 or GCS bucket or an Azure Blob container (any number
    of machines).

    Args:
        project_name: Name of this project's folder under the location.
        url: The location as a URL (``file:///abs/dir``, ``memory://``, ``s3://bucket/prefix``,
            ``gs://bucket/prefix``, ``abfs://container/prefix``).
        base_dir: The location as a directory or URL (the seeds' spelling); default: the
            ``FSSPEC_URI`` setting, else ``BASE_DIR`` (``.omniq``).
        storage_options: Passed to the fsspec filesystem (credentials, ``endpoint_url``, ...).
        queues: Queue names in priority order.
        poll_interval: Longest wait between two looks for new work where no inotify wakes
            idle workers (object stores, ``memory://``); default: the ``POLL_INTERVAL``
            setting.
        secret_key: Signing key.

    Raises:
        ConfigError: The location is a store where claims cannot be atomic.
    """

    config_class = FileTaskQueueConfig
    needs_claims = True

    def __init__(self, *, project_name: str | None = None, secret_key: str | None = None,
                 url: str | None = None, base_dir: str | os.PathLike[str] | None = None,
                 storage_options: Mapping[str, Any] | None = None,
                 queues: Sequence[str] | None = None,
                 poll_interval: float | None = None) -> None:
        AsyncTaskQueue.__init__(self, project_name=project_name, queues=queues,
                                secret_key=secret_key)
        self._locate(url, base_dir, storage_options)
        self._claims = _ClaimState()
        interval = get_setting("POLL_INTERVAL") if poll_interval is None else poll_interval
        if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
            raise ConfigError("bad poll_interval", field="poll_interval", value=poll_interval,
                              expected="seconds > 0 (default: the POLL_INTERVAL setting)")
        self.poll_interval = float(interval)

    def default_result_store(self) -> AsyncFileResultStore:
        """A result store beside the tasks (used when none is configured)."""
        return AsyncFileResultStore(project_name=self.project_name, secret_key=self._secret_key,
                                    url=self.location, storage_options=self.storage_options)

    # -- tasks ---------------------------------------------------------------------------------
    async def add_tasks(self, tasks: Sequence[Task]) -> list[bool]:
        return await self._run_batch(_add_tasks, list(tasks))

    async def claim(self, queues: Sequence[str], *, worker_id: str, lease: float,
                    now: datetime, limit: int = 1) -> list[Task]:
        if limit <= 0 or not queues:
            return []
        return await self._run(_claim, list(queues), worker_id, now,
                               now + timedelta(seconds=lease), limit, self._claims)

    async def get_task(self, task_id: str) -> Task | None:
        got = await self._run(_read_task, task_id)
        return None if got is None else got[0]

    async def update_task(self, task: Task, *, expect_status: Collection[TaskStatus],
                          expect_attempts: int | None = None) -> bool:
        wanted = frozenset(TaskStatus(s) for s in expect_status)

        def change(stored: Task) -> Task | None:
            if stored.status not in wanted:
                return None
            if expect_attempts is not None and stored.attempts != expect_attempts:
                return None
            return task

        return await self._run(_change_task, task.id, change) is not None

    async def modify_running(self, task_id: str, attempts: int,
                             change: Callable[[Task], Task]) -> Task | None:
        def guarded(stored: Task) -> Task | None:
            if stored.status != TaskStatus.RUNNING or stored.attempts != attempts:
                return None
            return change(stored)

        return await self._run(_change_task, task_id, guarded)

    async def list_tasks(self, *, queue_name: str | None = None,
                         status: TaskStatus | None = None, limit: int = 100,
                         offset: int = 0) -> list[Task]:
        return await self._run(_list_tasks, queue_name, status, limit, offset)

    async def page_tasks(self, *, queue_name: str | None = None,
                         status: TaskStatus | None = None, after: str | None = None,
                         descending: bool = False, limit: int = 100) -> list[Task]:
        if limit <= 0:
            return []
        return await self._run(_page_tasks, queue_name, status, after, descending, limit)

    async def task_counts(self) -> dict[str, dict[TaskStatus, int]]:
        return await self._run(_task_counts)

    async def count_tasks(self, *, queue_name: str | None = None,
                          status: TaskStatus | None = None) -> int:
        return await self._run(_count_tasks, queue_name, status)

    async def expired_leases(self, now: datetime, limit: int = 100) -> list[Task]:
        return await self._run(_expired_leases, now, limit)

    async def dependents(self, task_id: str) -> list[Task]:
        return await self._run(_dependents, task_id)

    async def delete_tasks(self, task_ids: Sequence[str]) -> int:
        return await self._run(_delete_tasks, list(task_ids))

    async def wait_for_work(self, queues: Sequence[str], timeout: float) -> None:
        """On a local directory, wake at once when a runnable task appears in ``queues``
        (inotify where the platform has it); elsewhere look again with a back-off, from 10 ms
        up to ``poll_interval`` between looks (each look lists two folders per queue)."""
        if self._store is None:
            await self.connect()
        store = self._store
        assert store is not None
        end = time.monotonic() + timeout
        names = list(queues)
        watch = _wakeups.watch(store.local_root, names) if store.local_root else None
        try:
            due = await self._run(_next_due, names)  # after the watch starts: nothing missed
            wait = min(end - time.monotonic(), due)
            if wait <= 0:
                return
            if watch is not None:
                await watch.wait(wait)
                return
            delay = 0.01
            while wait > 0:  # no inotify: a back-off poll, up to poll_interval apart
                await anyio.sleep(min(delay, wait))
                delay = min(delay * 2, self.poll_interval)
                due = await self._run(_next_due, names)
                wait = min(end - time.monotonic(), due)
        finally:
            if watch is not None:
                watch.close()

    # -- schedules -----------------------------------------------------------------------------
    async def add_schedule(self, schedule: Schedule) -> bool:
        return await self._run(_create, _schedule_key(schedule.id), _encode(schedule))

    async def get_schedule(self, schedule_id: str) -> Schedule | None:
        got = await self._run(_read, _schedule_key(schedule_id))
        return None if got is None else _schedule.decode(got[0])

    async def list_schedules(self, *, status: ScheduleStatus | None = None) -> list[Schedule]:
        found = await self._run(_all_schedules)
        return [s for s in found if status is None or s.status == status]

    async def update_schedule(self, schedule: Schedule, *, expect_version: int) -> bool:
        return await self._run(_update_schedule, schedule, expect_version)

    async def delete_schedule(self, schedule_id: str) -> bool:
        return await self._run(_delete, _schedule_key(schedule_id))

    async def due_schedules(self, now: datetime, limit: int = 100) -> list[Schedule]:
        found = await self._run(_all_schedules)
        due = [s for s in found if s.status == ScheduleStatus.ACTIVE
               and s.next_run_at is not None and s.next_run_at <= now]
        return sorted(due, key=lambda s: (s.next_run_at, s.id))[:limit]

    # -- the worker registry -------------------------------------------------------------------
    async def put_worker(self, worker: WorkerInfo) -> None:
        await self._run(_put, f"workers/{safe_name(worker.id)}", _encode(worker))

    async def list_workers(self) -> list[WorkerInfo]:
        return await self._run(_all_workers)

    async def delete_workers(self, worker_ids: Sequence[str]) -> int:
        return await self._run(_delete_workers, list(worker_ids))


class _ClaimState:
    """What the claims of one queue instance share."""

    #: Seconds an index entry may go unowned by its record (missing, or in another state)
    #: before a claim removes it: every write adds the new state's entries first and writes
    #: the record right after, and on an object store (no lock) a claim can look in between.
    STALE_AFTER = 60.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Entries a claim of this instance is trying right now: its other claims skip them
        # instead of racing for the same task (which on an object store costs round trips).
        self._trying: set[str] = set()
        self._unowned: dict[str, float] = {}  # entry -> when a claim first found it unowned

    @contextlib.contextmanager
    def reserve(self, entry: str) -> Iterator[bool]:
        """True (and held until the block ends) if no other claim of this instance is trying
        ``entry``."""
        with self._lock:
            mine = entry not in self._trying
            self._trying.add(entry)
        try:
            yield mine
        finally:
            if mine:
                with self._lock:
                    self._trying.discard(entry)

    def stale(self, entry: str) -> bool:
        """Whether ``entry``, which its record does not own, has been so for
        :attr:`STALE_AFTER` seconds (a leftover of a crash, to remove) rather than the entry
        of a write under way."""
        now = time.monotonic()
        with self._lock:
            if len(self._unowned) > 10_000:  # entries a write took over since: forget them
                self._unowned = {e: t for e, t in self._unowned.items()
                                 if now - t < 2 * self.STALE_AFTER}
            first = self._unowned.setdefault(entry, now)
            if now - first < self.STALE_AFTER:
                return False
            del self._unowned[entry]
            return True


# -- keys ----------------------------------------------------------------------------------------

def _task_key(task_id: str) -> str:
    return f"tasks/{safe_name(task_id)}"


def _schedule_key(schedule_id: str) -> str:
    return f"schedules/{safe_name(schedule_id)}"


def _ready_key(task: Task) -> str:
    return (f"ready/{task.queue_name}/{priority_key(task.priority)}_{micros(task.run_at)}_"
            f"{safe_name(task.id)}")


def _wait_key(task: Task) -> str:
    return (f"wait/{task.queue_name}/{micros(task.run_at)}_{priority_key(task.priority)}_"
            f"{safe_name(task.id)}")


def _required(task: Task) -> set[str]:
    """The index entries the state of ``task`` needs: a runnable task that is due when
    written goes straight to ``ready/``, a later one to ``wait/``."""
    name = safe_name(task.id)
    keys = {f"status/{TaskStatus(task.status).value}/{task.queue_name}/{name}"}
    if task.status in RUNNABLE:
        due = task.run_at.timestamp() <= time.time()
        keys.add(_ready_key(task) if due else _wait_key(task))
    elif task.status == TaskStatus.RUNNING and task.lease_expires_at is not None:
        keys.add(f"running/{micros(task.lease_expires_at)}_{name}")
    return keys


def _owned(task: Task | None) -> set[str]:
    """Every index entry that may stand for the state of ``task`` (what a write removes)."""
    if task is None:
        return set()
    keys = _required(task)
    if task.status in RUNNABLE:
        keys |= {_ready_key(task), _wait_key(task)}
    return keys


# -- what runs against the store (in a worker thread when it blocks) ----------------------------

def _read(store: Store, key: str) -> tuple[bytes, Any] | None:
    return store.read(key)


def _create(store: Store, key: str, data: bytes) -> bool:
    return store.create(key, data)


def _delete(store: Store, key: str) -> bool:
    return store.delete(key)


_decode_task = msgspec.msgpack.Decoder(Task).decode


def _decoded(data: bytes, name: str) -> Task:
    """The task in the record file ``tasks/<name>`` (``name``: the safe name of its id); a
    damaged record, or one naming another id, comes back as the core's unreadable stand-in."""
    try:
        task = _decode_task(data)
    except msgspec.DecodeError as exc:
        return unreadable(_id_of(name), f"cannot decode the stored record: {exc}")
    if safe_name(task.id) != name:
        return unreadable(_id_of(name), f"the record stored as {name!r} names task {task.id!r}")
    return task


def _id_of(name: str) -> str:
    """The id a record file's safe name stands for (ids too long to encode keep the name)."""
    if name.startswith("~") and not name.startswith("~~"):
        return bytes.fromhex(name[1:]).decode()
    return name


def _read_task(store: Store, task_id: str) -> tuple[Task, Any] | None:
    got = store.read(_task_key(task_id))
    return None if got is None else (_decoded(got[0], safe_name(task_id)), got[1])


def _is_status(key: str) -> bool:
    return key.startswith("status/")


def _handles_first(keys: set[str]) -> list[str]:
    """Entries to create, the ``ready/``, ``wait/`` and ``running/`` ones before ``status/``."""
    return sorted(keys, key=_is_status)


def _status_first(keys: set[str]) -> list[str]:
    """Entries to remove, ``status/`` before the others."""
    return sorted(keys, key=lambda key: not _is_status(key))


def _write(store: Store, old: Task, new: Task, token: Any) -> bool:
    """Swap the record of ``old`` (version ``token``) for ``new``, keeping the index right.

    A ``status/`` entry is created after, and removed before, the ``ready/``, ``wait/`` or
    ``running/`` entry of the same state (on stores that write one entry at a time), so one a
    crash leaves behind always has such an entry beside it, which claims and lease checks
    visit and drop with it: counts are listings of ``status/`` and stay exact."""
    needed = _required(new) - _required(old)
    store.create_many(_handles_first(needed))
    if not store.swap(_task_key(new.id), _encode(new), token):
        current = _read_task(store, new.id)
        store.discard_many(_status_first(
            needed - _owned(None if current is None else current[0])))
        return False
    store.discard_many(_status_first(_owned(old) - _owned(new)))
    return True


def _drop_status(store: Store, name: str, queue: str, statuses: Collection[TaskStatus],
                 stored: Task | None) -> None:
    """Remove the ``status/`` entries of task ``name`` in ``queue`` for ``statuses`` that its
    record ``stored`` does not own: leftovers of a crash, found beside the stale ``ready/`` or
    ``running/`` entry being dropped (the caller holds the record's lock)."""
    keys = {f"status/{TaskStatus(s).value}/{queue}/{name}" for s in statuses}
    store.discard_many(keys - _owned(stored))


def _change_task(store: Store, task_id: str,
                 change: Callable[[Task], Task | None]) -> Task | None:
    """Store ``change(stored)`` unless it is None; atomically (retried if another writer got
    in between, on stores that detect that instead of locking)."""
    with store.locked(safe_name(task_id)):
        for _ in range(RETRIES):
            got = _read_task(store, task_id)
            if got is None:
                return None
            new = change(got[0])
            if new is None:
                return None
            if _write(store, got[0], new, got[1]):
                return new
    return None


def _deps_entries(task: Task) -> set[str]:
    return {f"deps/{safe_name(parent)}/{safe_name(task.id)}" for parent in task.depends_on}


def _add_tasks(store: Store, tasks: list[Task]) -> list[bool]:
    """The index entries of every task first (no record without its entries), then the
    records' exclusive creates, which decide whether each id was new; each step all at once
    on an object store."""
    entries = [_deps_entries(task) | _required(task) for task in tasks]
    store.create_many(_handles_first(set().union(*entries)))
    inserted = store.create_all([(_task_key(task.id), _encode(task)) for task in tasks])
    for task, mine, new in zip(tasks, entries, inserted, strict=True):
        if not new:  # the id exists: keep only the entries of the stored task
            with store.locked(safe_name(task.id)):
                current = _read_task(store, task.id)
                stored = None if current is None else current[0]
                kept = _owned(stored) | (_deps_entries(stored) if stored else set())
                store.discard_many(mine - kept)
    return inserted


def _promote(store: Store, queue: str, now: datetime) -> None:
    """Move the due entries of ``wait/<queue>`` to ``ready/<queue>`` (ready first, so a crash
    leaves both, never neither)."""
    limit = micros(now)
    for name in store.scan(f"wait/{queue}"):
        eta = name[:20]
        if eta > limit:
            break
        priority, _, task_name = name[21:].partition("_")
        store.create(f"ready/{queue}/{priority}_{eta}_{task_name}")
        store.discard_many([f"wait/{queue}/{name}"])


def _claim(store: Store, queues: list[str], worker_id: str, now: datetime, expires: datetime,
           limit: int, state: _ClaimState) -> list[Task]:
    claimed: list[Task] = []
    for queue in queues:
        if len(claimed) >= limit:
            break
        _promote(store, queue, now)
        for name in store.scan(f"ready/{queue}"):
            if len(claimed) >= limit:
                break
            entry = f"ready/{queue}/{name}"
            task_name = tail(name, 3)
            with state.reserve(entry) as mine, store.locked(task_name):
                if not mine:
                    continue
                got = store.read(f"tasks/{task_name}")
                stored = None if got is None else _decoded(got[0], task_name)
                if got is None or stored is None or entry not in _owned(stored):
                    # Not this record's, or not yet: writers add the entries of a new state
                    # before the record and remove the old state's after it, so only an
                    # entry that stays unowned is a crash's leftover.
                    if state.stale(entry):
                        _drop_status(store, task_name, queue, RUNNABLE, stored)
                        store.discard_many([entry])
                    continue
                if stored.run_at > now:
                    continue
                running = replace(stored, status=TaskStatus.RUNNING,
                                  attempts=stored.attempts + 1, worker_id=worker_id,
                                  started_at=now, lease_expires_at=expires)
                if _write(store, stored, running, got[1]):
                    claimed.append(running)  # the loser of a race just tries the next one
    return claimed


def _next_due(store: Store, queues: list[str]) -> float:
    """Seconds until work is due in ``queues`` (0: now; inf: nothing waits)."""
    now = time.time()
    soonest = float("inf")
    for queue in queues:
        if next(store.scan(f"ready/{queue}"), None) is not None:
            return 0.0
        first = next(store.scan(f"wait/{queue}"), None)
        if first is not None:
            soonest = min(soonest, int(first[:20]) / 1_000_000 - now)
    return max(0.0, soonest)


def _ids_in(store: Store, folders: list[str]) -> list[str]:
    names: list[str] = []
    for folder in folders:
        names += store.names(folder)
    return sorted(set(names))


def _status_folders(store: Store, queue: str | None, status: TaskStatus | None) -> list[str]:
    statuses = [TaskStatus(status).value] if status is not None else store.names("status")
    folders = []
    for name in statuses:
        queues = [queue] if queue is not None else store.names(f"status/{name}")
        folders += [f"status/{name}/{q}" for q in queues]
    return folders


def _list_tasks(store: Store, queue: str | None, status: TaskStatus | None, limit: int,
                offset: int) -> list[Task]:
    if queue is None and status is None:
        names = store.names("tasks")
    else:
        names = _ids_in(store, _status_folders(store, queue, status))
    found: list[Task] = []
    skipped = 0
    for name in names:
        got = store.read(f"tasks/{name}")
        if got is None:
            continue
        task = _decoded(got[0], name)
        if (queue is not None and task.queue_name != queue) or (
                status is not None and task.status != status):
            continue  # a stale entry
        if skipped < offset:
            skipped += 1
            continue
        found.append(task)
        if len(found) >= limit:
            break
    return found


def _page_tasks(store: Store, queue: str | None, status: TaskStatus | None, after: str | None,
                descending: bool, limit: int) -> list[Task]:
    """The listing of the selection's index folders from ``after`` on, in name order (which is
    id order for the ids OmniQ makes), each entry checked against its task's record."""
    if queue is None and status is None:
        names = store.names("tasks")
    else:
        names = _ids_in(store, _status_folders(store, queue, status))
    if after is not None:
        mark = safe_name(after)
        names = names[:bisect.bisect_left(names, mark)] if descending \
            else names[bisect.bisect_right(names, mark):]
    found: list[Task] = []
    for name in reversed(names) if descending else names:
        got = store.read(f"tasks/{name}")
        if got is None:
            continue
        task = _decoded(got[0], name)
        if (queue is not None and task.queue_name != queue) or (
                status is not None and task.status != status):
            continue  # a stale entry
        found.append(task)
        if len(found) >= limit:
            break
    return found


def _task_counts(store: Store) -> dict[str, dict[TaskStatus, int]]:
    counts: dict[str, dict[TaskStatus, int]] = {}
    for name in store.names("status"):
        for queue in store.names(f"status/{name}"):
            size = len(store.names(f"status/{name}/{queue}"))
            if size:
                counts.setdefault(queue, {})[TaskStatus(name)] = size
    return counts


def _count_tasks(store: Store, queue: str | None, status: TaskStatus | None) -> int:
    if queue is None and status is None:
        return store.count("tasks")
    return sum(store.count(f) for f in _status_folders(store, queue, status))


def _expired_leases(store: Store, now: datetime, limit: int) -> list[Task]:
    found: list[Task] = []
    cutoff = micros(now)
    for name in store.names("running"):
        if name[:20] >= cutoff or len(found) >= limit:
            break
        got = store.read(f"tasks/{tail(name, 2)}")
        task = None if got is None else _decoded(got[0], tail(name, 2))
        if task is not None and task.status == TaskStatus.RUNNING and (
                task.lease_expires_at is not None and task.lease_expires_at < now):
            found.append(task)
        elif f"running/{name}" not in _owned(task):
            with store.locked(tail(name, 2)):  # no write of the record under way
                got = store.read(f"tasks/{tail(name, 2)}")
                task = None if got is None else _decoded(got[0], tail(name, 2))
                if f"running/{name}" not in _owned(task):
                    if task is not None:
                        _drop_status(store, tail(name, 2), task.queue_name,
                                     [TaskStatus.RUNNING], task)
                    store.delete(f"running/{name}")
    return found


def _dependents(store: Store, task_id: str) -> list[Task]:
    found = []
    for name in store.names(f"deps/{safe_name(task_id)}"):
        got = store.read(f"tasks/{name}")
        if got is not None:
            found.append(_decoded(got[0], name))
    return found


def _delete_tasks(store: Store, task_ids: list[str]) -> int:
    removed = 0
    for task_id in task_ids:
        name = safe_name(task_id)
        with store.locked(name):
            got = _read_task(store, task_id)
            if got is None:
                continue
            task = got[0]
            store.delete(_task_key(task_id))
            store.discard_many(_owned(task)
                               | {f"deps/{safe_name(p)}/{name}" for p in task.depends_on}
                               | {f"deps/{name}/{child}" for child in store.names(f"deps/{name}")})
            removed += 1
    return removed


def _all_schedules(store: Store) -> list[Schedule]:
    found = []
    for name in store.names("schedules"):
        got = store.read(f"schedules/{name}")
        if got is not None:
            found.append(_schedule.decode(got[0]))
    return sorted(found, key=lambda s: s.id)


def _put(store: Store, key: str, data: bytes) -> None:
    store.put(key, data)


def _all_workers(store: Store) -> list[WorkerInfo]:
    blobs = (store.read(f"workers/{name}") for name in store.names("workers"))
    return decode_workers(got[0] for got in blobs if got is not None)


def _delete_workers(store: Store, worker_ids: list[str]) -> int:
    return sum(store.delete(f"workers/{safe_name(w)}") for w in worker_ids)


def _update_schedule(store: Store, schedule: Schedule, expect_version: int) -> bool:
    key = _schedule_key(schedule.id)
    with store.locked(safe_name(schedule.id)):
        got = store.read(key)
        if got is None or _schedule.decode(got[0]).version != expect_version:
            return False
        return store.swap(key, _encode(schedule), got[1])


class FileTaskQueue(TaskQueue, twin_of=AsyncFileTaskQueue):
    """Blocking twin of :class:`AsyncFileTaskQueue`."""


__all__ = ["AsyncFileTaskQueue", "FileTaskQueue", "FileTaskQueueConfig"]
