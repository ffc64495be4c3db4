"""The file backend (omniq-fsspec) beyond the conformance kit: the seeds' constructor forms,
names that cannot escape the base directory, stores that cannot claim atomically refused, the
object stores' conditional writes (S3, Azure, GCS on loopback servers),
events as JSON files, idle workers woken by inotify, listings that do not grow with history,
and several worker processes on one directory (each task once; a SIGKILLed worker's task runs
again after its lease).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from azurite import CONTAINER, azure_options, azurite_server
from fake_gcs import gcs_options, gcs_server
from local_server import free_port
from moto_s3 import BUCKET, moto_server, s3_options
from msgspec.structs import replace
from omniq import AsyncOmniQ, OmniQ
from omniq.exceptions import BackendUnavailableError, ConfigError
from omniq.models import EventType, TaskEvent, TaskStatus
from omniq_fsspec import (
    AsyncFileEventStore,
    AsyncFileResultStore,
    AsyncFileTaskQueue,
    FileTaskQueue,
    _wakeups,
)
from omniq_fsspec._s3 import S3Store
from tasks_sqlite import read_logs, record, slow_record
from worker_processes import LocalWorkers


def double(x: int) -> int:
    return 2 * x


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


# -- the seeds' forms ------------------------------------------------------------------------------

def test_seed_component_form_runs_a_task(tmp_path: Path) -> None:
    from omniq.queue import FileTaskQueue as SeedQueue
    from omniq.storage import FileResultStorage
    from omniq.workers import ThreadPoolWorker

    base = str(tmp_path / "some" / "path")
    queue = SeedQueue(project_name="my_project", base_dir=base, queues=["low", "medium", "high"])
    result_store = FileResultStorage(project_name="my_project", base_dir=base)
    with queue, result_store, ThreadPoolWorker(queue=queue, result_store=result_store,
                                               max_workers=2) as worker:
        assert worker is not None
        task_id = queue.enqueue(double, func_args=dict(x=21), queue_name="low")
        assert result_store.wait(task_id, timeout=20).result == 42
    assert (tmp_path / "some" / "path" / "my_project" / "tasks").is_dir()


def test_seed_backend_and_config_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from omniq import TaskQueue
    from omniq.backend import FileBackend as SeedBackend
    from omniq.models import FileTaskQueueConfig

    base = str(tmp_path / "some" / "path")
    file_backend = SeedBackend(project_name="my_project", base_dir=base)
    with OmniQ.from_backend(file_backend, worker_type="async",
                            worker_config={"max_workers": 4}) as oq:
        oq.start_worker()
        task_id = oq.enqueue(double, func_args=dict(x=4))
        assert oq.get_result(task_id, timeout=20) == 8
        oq.stop_worker()
    queue = TaskQueue.from_backend(file_backend, queues=["high", "medium", "low"])
    assert isinstance(queue, FileTaskQueue) and queue.queues[:3] == ["high", "medium", "low"]
    from_config = FileTaskQueue.from_config(FileTaskQueueConfig(
        project_name="my_project", base_dir=base, queues=["high", "medium", "low"]))
    with from_config:
        assert from_config.get_task(task_id) is not None  # the same folder

    config = tmp_path / "config.yaml"
    config.write_text(f"project_name: my_project\ntask_queue:\n  type: file\n  config:\n"
                      f"    base_dir: {base}\n    queues: [high, medium, low]\n"
                      f"result_store:\n  type: fsspec\n  config:\n    base_dir: {base}\n")
    with OmniQ.from_config_file(config) as oq:
        assert isinstance(oq.task_queue, FileTaskQueue)
        assert oq.get_task(task_id) is not None

    monkeypatch.setenv("OMNIQ_TASK_QUEUE_TYPE", "file")
    monkeypatch.setenv("OMNIQ_FSSPEC_URI", base)
    monkeypatch.setenv("OMNIQ_PROJECT_NAME", "my_project")
    with OmniQ.from_env() as oq:
        assert isinstance(oq.task_queue, FileTaskQueue)
        assert oq.get_task(task_id) is not None


def test_seed_cloud_forms_construct_without_connecting() -> None:
    from omniq.queue import FileTaskQueue as SeedQueue
    from omniq.storage import FileResultStorage

    s3_queue = SeedQueue(project_name="my_project", base_dir="s3://my-bucket/omniq",
                         queues=["high", "medium", "low"],
                         storage_options={"key": "access_key", "secret": "secret_key"})
    assert s3_queue.location == "s3://my-bucket/omniq"
    results = FileResultStorage(base_dir="s3://my-bucket/omniq/results")
    assert results.location.endswith("/results")
    FileResultStorage(base_dir="gs://my-bucket/omniq", storage_options={"token": "t.json"})
    FileResultStorage(base_dir="abfs://my-container/omniq")
    gcs_queue = SeedQueue(project_name="my_project", base_dir="gs://my-bucket/omniq",
                          storage_options={"token": "t.json"})
    assert gcs_queue.location == "gs://my-bucket/omniq"


# -- refusals --------------------------------------------------------------------------------------

@pytest.mark.parametrize("location", ["ftp://host/omniq", "http://host/omniq",
                                      "adl://store/omniq"])
def test_store_that_cannot_claim_atomically_is_refused_at_construction(location: str) -> None:
    with pytest.raises(ConfigError, match="cannot claim tasks atomically") as info:
        FileTaskQueue(project_name="p", base_dir=location)
    assert "local directory" in str(info.value)  # says what would work


@pytest.mark.anyio
async def test_s3_server_that_ignores_conditional_writes_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # moto honours If-None-Match; a server that does not answers every create with success.
    with moto_server() as endpoint:
        monkeypatch.setattr(S3Store, "create", lambda self, key, data=b"": True)
        queue = AsyncFileTaskQueue(project_name="p", url=f"s3://{BUCKET}/x",
                                   storage_options=s3_options(endpoint))
        with pytest.raises(ConfigError, match="ignores exclusive creates .If-None-Match"):
            await queue.connect()


@pytest.fixture(scope="module")
def azure_endpoint() -> Iterator[str]:
    with azurite_server() as endpoint:
        yield endpoint


@pytest.mark.anyio
async def test_azure_store_that_ignores_conditional_writes_is_refused(
        monkeypatch: pytest.MonkeyPatch, azure_endpoint: str) -> None:
    from omniq_fsspec._azure import AzureStore

    options = {"url": f"abfs://{CONTAINER}/x", "storage_options": azure_options(azure_endpoint)}
    async with AsyncFileTaskQueue(project_name="p", **options) as queue:
        assert await queue.get_task("nothing") is None  # Azurite honours If-None-Match
    monkeypatch.setattr(AzureStore, "create", lambda self, key, data=b"": True)
    with pytest.raises(ConfigError, match="ignores exclusive creates .If-None-Match"):
        await AsyncFileTaskQueue(project_name="p", **options).connect()


def test_location_given_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="url or base_dir"):
        FileTaskQueue(project_name="p", url="memory://x", base_dir=str(tmp_path))


# -- paths -----------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_no_name_escapes_base_dir(tmp_path: Path) -> None:
    base = tmp_path / "base"
    outside_before = files_under(tmp_path)
    evil = ["../../escape", "/etc/passwd", "a/../../b", "..", ".", "x\\y", "~7e", "é/ü",
            "a" * 400]
    async with AsyncFileTaskQueue(project_name="p", base_dir=str(base)) as queue, \
            AsyncFileResultStore(project_name="p", base_dir=str(base)) as results, \
            AsyncFileEventStore(project_name="p", base_dir=str(base)) as events:
        for task_id in evil:
            assert await queue.enqueue(double, 1, task_id=task_id) == task_id
            stored = await queue.get_task(task_id)
            assert stored is not None and stored.id == task_id
            await results.put_blob(task_id, b"r", expires_at=None, schedule_id=task_id,
                                   finished_at=datetime.now(UTC))
            assert await results.get_blob(task_id) == b"r"
            await events.append([TaskEvent(id=task_id, type=EventType.ENQUEUED,
                                           timestamp=datetime.now(UTC), task_id=task_id)])
            assert [e.id for e in await events.query(task_id=task_id)] == [task_id]
        claimed = await queue.claim(["default"], worker_id="w", lease=30,
                                    now=datetime.now(UTC), limit=100)
        assert sorted(t.id for t in claimed) == sorted(evil)
        with pytest.raises(ConfigError, match="task_id"):  # control characters: refused
            await queue.enqueue(double, 1, task_id="x\x00y")
        for name in ("../x", "a/b", ".."):
            with pytest.raises(ConfigError):
                AsyncFileTaskQueue(project_name=name, base_dir=str(base))
            with pytest.raises(ConfigError):
                await queue.enqueue(double, 1, queue_name=name)
    new = files_under(tmp_path) - outside_before
    assert new and all(base in p.parents for p in new), sorted(new - {
        p for p in new if base in p.parents})


# -- events as JSON --------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_events_are_json_files(tmp_path: Path) -> None:
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    async with AsyncFileEventStore(project_name="p", base_dir=str(tmp_path)) as events:
        await events.append([TaskEvent(id="e1", type=EventType.COMPLETE, timestamp=now,
                                       task_id="t1", queue_name="q", attempt=1,
                                       data={"took": 0.5})])
        day = tmp_path / "p" / "events" / "2026-12-05"
        (path,) = day.iterdir()
        assert path.suffix == ".json"
        body = json.loads(path.read_text())
        assert body["id"] == "e1" and body["type"] == "COMPLETE"
        assert body["task_id"] == "t1" and body["data"] == {"took": 0.5}
        assert (tmp_path / "p" / "events_by_task" / "t1" / path.name).is_file()
        assert await events.purge(now + timedelta(seconds=1)) == 1
        assert list(day.iterdir()) == [] and await events.query(task_id="t1") == []


# -- listings and wake-ups -------------------------------------------------------------------------

@pytest.mark.anyio
async def test_finished_tasks_leave_the_claim_indexes(tmp_path: Path) -> None:
    root = tmp_path / "p"
    async with AsyncFileTaskQueue(project_name="p", base_dir=str(tmp_path)) as queue:
        await queue.enqueue_many(double, range(30))
        later = await queue.enqueue(double, 1, run_in=3600)
        now = datetime.now(UTC)
        claimed = await queue.claim(["default"], worker_id="w", lease=30, now=now, limit=100)
        assert len(claimed) == 30
        for task in claimed:
            done = task.__class__(**{**{f: getattr(task, f) for f in task.__struct_fields__},
                                     "status": TaskStatus.COMPLETED})
            assert await queue.update_task(done, expect_status={TaskStatus.RUNNING},
                                           expect_attempts=1)
        assert os.listdir(root / "ready" / "default") == []
        assert os.listdir(root / "running") == []
        assert [n.rsplit("_", 1)[1] for n in os.listdir(root / "wait" / "default")] == [later]
        assert len(os.listdir(root / "status" / "completed" / "default")) == 30
        assert await queue.count_tasks(status=TaskStatus.COMPLETED) == 30


@pytest.mark.anyio
async def test_idle_worker_on_a_local_dir_wakes_on_another_instances_enqueue(
        tmp_path: Path) -> None:
    if _wakeups.watch(str(tmp_path), ["probe"]) is None:
        pytest.skip("no inotify on this platform: the queue polls with a back-off instead")
    async with AsyncFileTaskQueue(project_name="p", base_dir=str(tmp_path),
                                  poll_interval=30) as idle, \
            AsyncFileTaskQueue(project_name="p", base_dir=str(tmp_path)) as other:
        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            async def enqueue_soon() -> None:
                await anyio.sleep(0.2)
                await other.enqueue(double, 1, queue_name="wake")

            tg.start_soon(enqueue_soon)
            await idle.wait_for_work(["wake"], 20)
        assert time.monotonic() - started < 5  # woken, not the 20 s timeout


@pytest.mark.anyio
async def test_claims_see_other_instances_writes_at_once(tmp_path: Path) -> None:
    """The claimer's listing of ``ready/`` is kept in memory (inotify): a task another
    instance enqueues, even ahead of everything, is the next one claimed, and a task another
    instance claimed is not tried again."""
    async with AsyncFileTaskQueue(project_name="p", base_dir=str(tmp_path)) as claimer, \
            AsyncFileTaskQueue(project_name="p", base_dir=str(tmp_path)) as other:
        low = await other.enqueue_many(double, range(5), priority=1)
        (first,) = await claimer.claim(["default"], worker_id="a", lease=30,
                                       now=datetime.now(UTC))
        assert first.id == low[0]  # the claimer's listing exists from here on
        urgent = await other.enqueue(double, 9, priority=5)
        (taken,) = await other.claim(["default"], worker_id="b", lease=30,
                                     now=datetime.now(UTC))
        assert taken.id == urgent
        urgent_too = await other.enqueue(double, 8, priority=5)
        got = await claimer.claim(["default"], worker_id="a", lease=30, now=datetime.now(UTC),
                                  limit=10)
        assert [t.id for t in got] == [urgent_too, *low[1:]]


@pytest.mark.anyio
async def test_claim_leaves_an_entry_whose_record_is_still_being_written(
        project_name: str) -> None:
    """An enqueue writes the index entries, then the record; on an object store nothing
    stops a claim from looking in between. It must not drop the entry as stale (the task
    would never run), only skip it until the record is there."""
    import msgspec
    from omniq_fsspec.queue import _required, _task_key

    async with AsyncFileTaskQueue(project_name=project_name, url="memory://orphans") as queue:
        assert await queue.get_task("connects") is None
        store = queue._store
        assert store is not None
        try:
            task = queue.build_task(double, 1)
            store.create_many(_required(task))  # the enqueue has written its entries ...
            now = datetime.now(UTC)
            assert await queue.claim(["default"], worker_id="w", lease=30, now=now) == []
            assert store.create(_task_key(task.id), msgspec.msgpack.encode(task))  # ... record
            (claimed,) = await queue.claim(["default"], worker_id="w", lease=30, now=now)
            assert claimed.id == task.id
        finally:
            store.remove_all()


class Killed(Exception):
    """Stands for a SIGKILL: the write stops where it was."""


def dying_after(monkeypatch: pytest.MonkeyPatch, removals: int) -> None:
    """Make the local directory's deletes stop the process after ``removals`` of them."""
    from omniq_fsspec._stores import LocalStore

    real = LocalStore.delete
    done = 0

    def delete(self: LocalStore, key: str) -> bool:
        nonlocal done
        if done == removals:
            raise Killed(key)
        done += 1
        return real(self, key)

    monkeypatch.setattr(LocalStore, "delete", delete)


@pytest.mark.anyio
@pytest.mark.parametrize("removals", [0, 1])
async def test_counts_stay_exact_after_a_completion_cut_short(
        tmp_path: Path, project_name: str, monkeypatch: pytest.MonkeyPatch,
        removals: int) -> None:
    """A worker killed after a task's record says completed but before the entries of its
    running state are gone (found by the chaos suite's SIGKILL storm, which counted a completed
    task as running too, for good): the lease checks drop what it left behind."""
    async with AsyncFileTaskQueue(project_name=project_name, url=f"file://{tmp_path}") as queue:
        await queue.enqueue(double, 1)
        now = datetime.now(UTC)
        (task,) = await queue.claim(["default"], worker_id="w", lease=1, now=now)
        done = replace(task, status=TaskStatus.COMPLETED, lease_expires_at=None)
        with monkeypatch.context() as patch:
            dying_after(patch, removals)
            with pytest.raises(Killed):
                await queue.update_task(done, expect_status=[TaskStatus.RUNNING])
        assert await queue.expired_leases(now + timedelta(seconds=5)) == []
        assert await queue.task_counts() == {"default": {TaskStatus.COMPLETED: 1}}
        assert await queue.count_tasks(status=TaskStatus.RUNNING) == 0


@pytest.mark.anyio
@pytest.mark.parametrize("removals", [0, 1])
async def test_counts_stay_exact_after_a_claim_cut_short(
        tmp_path: Path, project_name: str, monkeypatch: pytest.MonkeyPatch,
        removals: int) -> None:
    """The same for a claim killed after the record says running, before the pending state's
    entries are gone: the next claims drop them once they are stale."""
    from omniq_fsspec.queue import _ClaimState

    monkeypatch.setattr(_ClaimState, "STALE_AFTER", 0.0)
    async with AsyncFileTaskQueue(project_name=project_name, url=f"file://{tmp_path}") as queue:
        await queue.enqueue(double, 1)
        now = datetime.now(UTC)
        with monkeypatch.context() as patch:
            dying_after(patch, removals)
            with pytest.raises(Killed):
                await queue.claim(["default"], worker_id="w", lease=30, now=now)
        assert await queue.claim(["default"], worker_id="v", lease=30, now=now) == []
        assert await queue.task_counts() == {"default": {TaskStatus.RUNNING: 1}}
        assert await queue.count_tasks(status=TaskStatus.PENDING) == 0


@pytest.mark.anyio
async def test_listing_read_afresh_after_lost_events_or_a_removed_folder(tmp_path: Path) -> None:
    from omniq_fsspec._listings import IN_Q_OVERFLOW, WatchedListings

    listings = WatchedListings.open()
    if listings is None:
        pytest.skip("no inotify on this platform: claims list the folder each time")
    folder = tmp_path / "ready"
    try:
        assert list(listings.scan(str(folder)) or ()) == []
        (folder / "b").touch()
        (folder / "a").touch()
        assert list(listings.scan(str(folder)) or ()) == ["a", "b"]
        listings._apply(-1, IN_Q_OVERFLOW, "")  # what the kernel sends when its queue is full
        (folder / "c").touch()
        assert list(listings.scan(str(folder)) or ()) == ["a", "b", "c"]
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()
        folder.mkdir()
        (folder / "d").touch()
        assert list(listings.scan(str(folder)) or ()) == ["d"]
    finally:
        listings.close()


@pytest.mark.anyio
@pytest.mark.parametrize("where", ["local", "memory"])
async def test_claim_cost_does_not_grow_with_the_backlog(tmp_path: Path, project_name: str,
                                                        where: str) -> None:
    """A claim with 20,000 tasks waiting (5,000 on a local disk, which fills slower) costs
    about what it costs with 200 (the claim reads the head of a listing kept in memory;
    bench/scale_file.py measures 1,000 against 100,000). The two are sampled in turn, so a
    busy machine slows both alike."""
    import msgspec

    location = str(tmp_path) if where == "local" else "memory://claim-cost"
    depths = {"shallow": 200, "deep": 20_000 if where == "memory" else 5_000}
    async with AsyncFileTaskQueue(project_name=project_name, url=location) as queue:
        template = queue.build_task(double, 1)
        for name, depth in depths.items():
            for start in range(0, depth, 2000):
                await queue.add_tasks([
                    msgspec.structs.replace(template, id=f"{name}-{i:06d}", queue_name=name)
                    for i in range(start, min(depth, start + 2000))])
        timings: dict[str, list[float]] = {name: [] for name in depths}
        try:
            for _ in range(100):
                for name in depths:
                    began = time.perf_counter()
                    (task,) = await queue.claim([name], worker_id="w", lease=30,
                                                now=datetime.now(UTC))
                    timings[name].append(time.perf_counter() - began)
                    assert await queue.release(task)
        finally:
            if where == "memory":
                assert queue._store is not None
                queue._store.remove_all()
    shallow, deep = (sorted(timings[name])[len(timings[name]) // 2] for name in depths)
    assert deep < shallow * 1.5 + 0.0005, (shallow, deep)


# -- several processes on one directory ----------------------------------------------------------

class Workers(LocalWorkers):
    """Worker processes (``file_worker.py``) on one directory."""

    def __init__(self, directory: str, project: str) -> None:
        super().__init__("file_worker.py", directory, project)


@pytest.fixture
def workers(tmp_path: Path, project_name: str) -> Iterator[Workers]:
    group = Workers(str(tmp_path / "shared"), project_name)
    yield group
    group.stop()


@pytest.fixture
def out_dir(tmp_path: Path) -> str:
    path = tmp_path / "runs"
    path.mkdir()
    return str(path)


async def wait_completed(oq: AsyncOmniQ, count: int, timeout: float) -> None:
    with anyio.fail_after(timeout):
        while await oq.task_queue.count_tasks(status=TaskStatus.COMPLETED) < count:
            await anyio.sleep(0.2)


#: 5,000 in the suite, as NATS's; ``OMNIQ_SOAK_TASKS=20000`` for the full form (the time it
#: takes: docs/user_guide/backends/file.qmd).
SOAK_TASKS = int(os.environ.get("OMNIQ_SOAK_TASKS", "5000"))


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.timeout(max(120, SOAK_TASKS // 20))
async def test_three_worker_processes_run_each_task_once(workers: Workers,
                                                         out_dir: str) -> None:
    n = SOAK_TASKS
    async with AsyncOmniQ(project_name=workers.project, backend_type="file",
                          base_dir=workers.location) as oq:
        ids = []
        for start in range(0, n, 5000):
            ids += await oq.enqueue_many(record, [(i, out_dir)
                                                  for i in range(start, min(n, start + 5000))])
        for _ in range(3):
            workers.start(concurrency=8, lease=30.0)
        await wait_completed(oq, n, timeout=max(100, n // 25))
        workers.stop()
        assert await oq.get_result(ids[n // 3], timeout=5) == n // 3
        assert await oq.task_queue.count_tasks(status=TaskStatus.RUNNING) == 0
    logs = read_logs(out_dir)
    runs = Counter(line for lines in logs.values() for line in lines)
    assert sorted(runs) == sorted(f"done {i}" for i in range(n))
    assert set(runs.values()) == {1}, [k for k, v in runs.items() if v > 1][:10]
    assert len([pid for pid, lines in logs.items() if lines]) >= 2  # the work was shared


@pytest.mark.slow
@pytest.mark.anyio
async def test_task_of_a_killed_worker_runs_again_after_its_lease(workers: Workers,
                                                                   out_dir: str) -> None:
    async with AsyncOmniQ(project_name=workers.project, backend_type="file",
                          base_dir=workers.location) as oq:
        slow_id = await oq.enqueue(slow_record, 0, out_dir, 1.5)
        victim = workers.start(concurrency=1, lease=1.0)
        with anyio.fail_after(20):
            while "start 0" not in read_logs(out_dir).get(victim.pid, []):
                await anyio.sleep(0.02)
        # Killed at once, mid-task: the survivor is started only after. (Killed after starting
        # it, the victim could finish the 1.5 s task while a loaded machine took that long to
        # start a process: the task then ran once, with no redelivery.)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        assert read_logs(out_dir)[victim.pid] == ["start 0"]
        survivor = workers.start(concurrency=2, lease=1.0)
        assert await oq.get_result(slow_id, timeout=30) == 0
        task = await oq.get_task(slow_id)
        assert task is not None and task.status == TaskStatus.COMPLETED
        assert task.redeliveries == 1 and task.attempts == 2
    logs = read_logs(out_dir)
    assert logs[victim.pid] == ["start 0"]
    assert logs[survivor.pid].count("start 0") == 1


# -- S3 layout -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.mark.anyio
async def test_s3_layout_and_conditional_claims(s3_endpoint: str, project_name: str) -> None:
    import s3fs

    options = {"url": f"s3://{BUCKET}/layout", "storage_options": s3_options(s3_endpoint)}
    async with AsyncFileTaskQueue(project_name=project_name, **options) as a, \
            AsyncFileTaskQueue(project_name=project_name, **options) as b:
        task_id = await a.enqueue(double, 2)
        fs = s3fs.S3FileSystem(**s3_options(s3_endpoint))
        root = f"{BUCKET}/layout/{project_name}"
        assert fs.exists(f"{root}/tasks/{task_id}")
        assert fs.ls(f"{root}/ready/default", detail=False)  # due: straight to ready/
        now = datetime.now(UTC)
        got = [await a.claim(["default"], worker_id="a", lease=30, now=now),
               await b.claim(["default"], worker_id="b", lease=30, now=now)]
        assert sorted(len(g) for g in got) == [0, 1]
        assert fs.ls(f"{root}/running", detail=False)


@pytest.mark.anyio
async def test_s3_settings_that_cannot_work_are_named(s3_endpoint: str,
                                                     project_name: str) -> None:
    """A missing bucket, an option s3fs does not take, or a local path that is a file: each a
    ConfigError naming what to change (they were s3fs's and botocore's own errors); an
    endpoint that does not answer is the store unavailable."""
    good = s3_options(s3_endpoint)
    cases = [("s3://no-such-bucket-here/x", good, ConfigError,
              "the bucket 'no-such-bucket-here' of s3://no-such-bucket-here/x/"),
             (f"s3://{BUCKET}/x", {**good, "nonsense_option": 1}, ConfigError,
              "storage_options holds an option S3FileSystem does not take"),
             (f"s3://{BUCKET}/x", {**good, "endpoint_url": f"http://127.0.0.1:{free_port()}",
                                   "config_kwargs": {"retries": {"max_attempts": 1},
                                                     "connect_timeout": 1}},
              BackendUnavailableError, "failed")]
    for url, options, error, said in cases:
        queue = AsyncFileTaskQueue(project_name=project_name, url=url, storage_options=options)
        with pytest.raises(error) as raised:
            await queue.enqueue(double, 2)
        assert said in str(raised.value), url
        await queue.close()


def test_a_local_base_dir_that_is_a_file_is_named(tmp_path: Path, project_name: str) -> None:
    (tmp_path / "afile").write_text("not a directory")
    with pytest.raises(ConfigError, match="afile is a file: the file backend keeps its tasks "
                                          "in a directory; field 'base_dir'"):
        OmniQ(project_name=project_name, backend_type="file",
              base_dir=str(tmp_path / "afile")).enqueue(double, 2)


# -- Azure layout ----------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_azure_layout_and_conditional_claims(project_name: str,
                                                   azure_endpoint: str) -> None:
    """On Azurite: the same layout as elsewhere, and of two instances claiming one task, one
    wins (If-Match on the record). The whole kit runs on Azurite in test_file_conformance.py."""
    from omniq_fsspec._azure import AzureStore

    options = {"url": f"abfs://{CONTAINER}/layout",
               "storage_options": azure_options(azure_endpoint)}
    await one_of_two_claimers_wins(project_name, options, AzureStore)


async def one_of_two_claimers_wins(project_name: str, options: dict[str, Any],
                                   store_type: type) -> None:
    """On an object store: the layout (records, ready and wait entries), and of two instances
    claiming one task at once, exactly one wins (the record's conditional write)."""
    async with AsyncFileTaskQueue(project_name=project_name, **options) as a, \
            AsyncFileTaskQueue(project_name=project_name, **options) as b:
        task_id = await a.enqueue(double, 2)
        later = await a.enqueue(double, 3, run_in=3600)
        store = a._store
        assert isinstance(store, store_type)
        assert store.names("tasks") == sorted([task_id, later])
        assert [n.rsplit("_", 1)[1] for n in store.names("ready/default")] == [task_id]
        assert [n.rsplit("_", 1)[1] for n in store.names("wait/default")] == [later]
        now = datetime.now(UTC)
        got = await asyncio.gather(a.claim(["default"], worker_id="a", lease=30, now=now),
                                   b.claim(["default"], worker_id="b", lease=30, now=now))
        assert sorted(len(g) for g in got) == [0, 1]
        assert store.names("ready/default") == [] and len(store.names("running")) == 1
        store.remove_all()


# -- GCS -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gcs_endpoint() -> Iterator[str]:
    with gcs_server() as endpoint:
        yield endpoint


def test_gcs_store_refuses_a_conflicting_create_or_update(gcs_endpoint: str) -> None:
    """The two primitives a claim rests on, against fake-gcs-server: a second exclusive create
    (ifGenerationMatch=0) and a swap from a version that was replaced since are refused."""
    from fake_gcs import BUCKET as GCS_BUCKET
    from omniq_fsspec._gcs import GCSStore
    from omniq_fsspec._stores import open_store

    store = open_store(f"gs://{GCS_BUCKET}/primitives", gcs_options(gcs_endpoint))
    assert isinstance(store, GCSStore)
    try:
        assert store.create("tasks/t", b"first") is True
        assert store.create("tasks/t", b"second") is False
        read = store.read("tasks/t")
        assert read is not None and read[0] == b"first"
        assert store.swap("tasks/t", b"mine", read[1]) is True
        assert store.swap("tasks/t", b"late", read[1]) is False  # that version is gone
        assert store.create_all([("tasks/t", b"again"), ("tasks/u", b"new")]) == [False, True]
        now = store.read("tasks/t")
        assert now is not None and now[0] == b"mine"
        # Any bytes round-trip through the multipart upload, part delimiters included.
        awkward = b"\r\n--x\r\n--\x00\xff" + bytes(range(256))
        store.put("tasks/awkward", awkward)
        back = store.read("tasks/awkward")
        assert back is not None and back[0] == awkward
    finally:
        store.remove_all()


@pytest.mark.anyio
async def test_gcs_layout_and_conditional_claims(project_name: str, gcs_endpoint: str) -> None:
    """On fake-gcs-server: the same layout as elsewhere, and of two instances claiming one task
    at once, one wins (ifGenerationMatch on the record). The whole kit on GCS:
    tests/test_file_conformance.py -k GCS."""
    from fake_gcs import BUCKET as GCS_BUCKET
    from omniq_fsspec._gcs import GCSStore

    options = {"url": f"gs://{GCS_BUCKET}/layout", "storage_options": gcs_options(gcs_endpoint)}
    await one_of_two_claimers_wins(project_name, options, GCSStore)


@pytest.mark.anyio
async def test_gcs_store_that_ignores_generation_preconditions_is_refused(
        monkeypatch: pytest.MonkeyPatch, gcs_endpoint: str) -> None:
    from fake_gcs import BUCKET as GCS_BUCKET
    from omniq_fsspec._gcs import GCSStore

    options = {"url": f"gs://{GCS_BUCKET}/probe", "storage_options": gcs_options(gcs_endpoint)}
    async with AsyncFileTaskQueue(project_name="p", **options) as queue:
        assert await queue.get_task("nothing") is None  # fake-gcs-server honours them
    monkeypatch.setattr(GCSStore, "create", lambda self, key, data=b"": True)
    with pytest.raises(ConfigError, match="ignores exclusive creates .ifGenerationMatch"):
        await AsyncFileTaskQueue(project_name="p", **options).connect()


@pytest.mark.parametrize(("url", "module", "extra"), [
    ("s3://bucket/p", "s3fs", "s3"), ("gs://bucket/p", "gcsfs", "gcs"),
    ("abfs://container/p", "adlfs", "azure")])
def test_an_object_store_without_its_client_package_names_the_extra(
        monkeypatch: pytest.MonkeyPatch, url: str, module: str, extra: str) -> None:
    from omniq.exceptions import ConfigError
    from omniq_fsspec._stores import open_store

    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    with pytest.raises(ConfigError) as caught:
        open_store(url, {})
    message = str(caught.value)
    assert f"needs the {module} package" in message
    assert f"omniq-fsspec[{extra}]" in message and "omniq[" not in message


@pytest.mark.anyio
async def test_the_start_line_names_the_directory_served(
        tmp_path: Path, project_name: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="omniq.worker")
    async with AsyncOmniQ(project_name=project_name, backend_type="file",
                          base_dir=str(tmp_path)) as oq:
        await oq.start_worker(worker_type="async", poll_interval=0.05)
        await oq.stop_worker()
    [start] = [r.getMessage() for r in caplog.records if " started: " in r.getMessage()]
    assert f"backend file at {tmp_path}" in start, start  # it said "in this process"
