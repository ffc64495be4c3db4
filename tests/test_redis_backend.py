"""What is specific to the ``redis`` backend (the contracts themselves are in the conformance
kit, ``test_redis_conformance.py``): constructor forms, key layout, clear errors, blocking
wake-ups, native expiry, pushed results and flat claim cost."""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
import redis.asyncio as aioredis
from omniq import AsyncOmniQ, OmniQ
from omniq._sync import as_async
from omniq._time import utcnow
from omniq.exceptions import (
    BackendError,
    BackendUnavailableError,
    ConfigError,
    TaskTimeoutError,
)
from omniq.models import RedisTaskQueueConfig, TaskResult, TaskStatus
from omniq.queue import RedisTaskQueue
from omniq.testing import _tasks
from omniq_redis import (
    AsyncRedisBackend,
    AsyncRedisEventStore,
    AsyncRedisResultStore,
    AsyncRedisTaskQueue,
    RedisBackend,
)
from tasks_redis import RedisServer

pytestmark = pytest.mark.redis


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clean(redis_url: str, project_name: str) -> Iterator[None]:
    """Delete the test's keys afterwards (sync, so sync tests can use it too)."""
    yield
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"omniq:{{{project_name}}}:*", count=1000))
    for start in range(0, len(keys), 1000):
        client.unlink(*keys[start:start + 1000])
    client.close()


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url)
    yield client
    await client.aclose()


# -- constructor forms ---------------------------------------------------------------------------
@pytest.mark.usefixtures("clean")
def test_seed_form_host_and_port_in_a_plain_script(project_name: str) -> None:
    queue = RedisTaskQueue(host="127.0.0.1", port=6379, project_name=project_name)
    task_id = queue.enqueue(_tasks.add, 2, 3)
    assert queue.get_task(task_id).status == TaskStatus.PENDING
    assert queue.count_tasks() == 1
    queue.close()


def test_url_parts_reach_the_client() -> None:
    queue = AsyncRedisTaskQueue(url="redis://alice:s3cret@cache.example:6380/3")
    pool = queue._new_client().connection_pool
    assert pool.connection_kwargs["host"] == "cache.example"
    assert pool.connection_kwargs["port"] == 6380
    assert pool.connection_kwargs["db"] == 3
    assert pool.connection_kwargs["username"] == "alice"
    assert pool.connection_kwargs["password"] == "s3cret"
    assert "s3cret" not in queue.where and "alice:***@" in queue.where
    tls = AsyncRedisTaskQueue(url="rediss://:pw@cache.example:6390/1")._new_client()
    assert tls.connection_pool.connection_class.__name__ == "SSLConnection"
    assert tls.connection_pool.connection_kwargs["db"] == 1
    keywords = AsyncRedisTaskQueue(host="h", port=1234, db=2, password="pw", ssl=True)
    kwargs = keywords._new_client().connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"], kwargs["password"]) == \
        ("h", 1234, 2, "pw")
    assert keywords.where == "rediss://:***@h:1234/2"
    assert AsyncRedisTaskQueue(db=2).where == "redis://127.0.0.1:6379/2"  # db alone shows
    # Keywords override the URL's parts (redis-py's from_url would let the URL win).
    both = AsyncRedisTaskQueue(url="redis://alice:s3cret@cache.example:6380/0", db=3,
                               password="other", ssl=True)
    pool = both._new_client().connection_pool
    assert (pool.connection_kwargs["db"], pool.connection_kwargs["password"]) == (3, "other")
    assert pool.connection_kwargs["host"] == "cache.example"  # the URL's, where not given
    assert pool.connection_class.__name__ == "SSLConnection"


def test_bad_connection_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="url"):
        AsyncRedisTaskQueue(url="postgresql://x/y")
    with pytest.raises(ConfigError, match="client"):
        import redis

        AsyncRedisTaskQueue(client=redis.Redis())
    with pytest.raises(ConfigError, match="sentinel_master"):
        AsyncRedisTaskQueue(sentinels=[("127.0.0.1", 26379)])
    # Beside a URL too (a TypeError from the component base, with no name meant).
    with pytest.raises(ConfigError, match="unknown option 'hots' for AsyncRedisTaskQueue.*"
                                          "did you mean 'host'"):
        OmniQ.from_config({"project_name": "r", "task_queue": {
            "type": "redis", "url": "redis://127.0.0.1:6379/0", "config": {"hots": "x"}}})


@pytest.mark.anyio
@pytest.mark.usefixtures("clean")
async def test_a_given_client_is_used_and_left_open(raw: aioredis.Redis,
                                                    project_name: str) -> None:
    async with AsyncRedisTaskQueue(client=raw, project_name=project_name) as queue:
        await queue.enqueue(_tasks.noop)
        assert queue.client is raw
    assert await raw.ping()
    assert await raw.exists(f"omniq:{{{project_name}}}:x:*") == 1


@pytest.mark.anyio
async def test_a_given_client_and_key_prefix_reach_the_default_result_store(
        raw: aioredis.Redis, project_name: str) -> None:
    queue = AsyncRedisTaskQueue(client=raw, project_name=project_name, key_prefix="app1",
                                retries=5)
    store = queue.default_result_store()
    assert store.client is None and store.prefix == queue.prefix == f"app1:{{{project_name}}}:"
    assert queue.writes_results_for(store)  # the finish writes the result in the same call
    async with store:
        assert store.client is raw


@pytest.mark.anyio
@pytest.mark.usefixtures("clean")
async def test_config_struct_yaml_and_type_names(redis_url: str, project_name: str,
                                                 tmp_path: Path) -> None:
    queue = AsyncRedisTaskQueue.from_config(RedisTaskQueueConfig(
        url=redis_url, project_name=project_name, queues=["high", "low"]))
    assert queue.queues == ["high", "low", "default"] and queue.project_name == project_name
    path = tmp_path / "queue.yaml"
    path.write_text(f"url: {redis_url}\nproject_name: {project_name}\nqueues: [a, b]\n")
    from_file = AsyncRedisTaskQueue.from_config_file(path)
    async with from_file:
        await from_file.enqueue(_tasks.noop, queue_name="b")
        assert await from_file.count_tasks(queue_name="b") == 1
    app = tmp_path / "omniq.yaml"
    app.write_text(f"project_name: {project_name}\n"
                   f"task_queue: {{type: redis, url: '{redis_url}', config: {{queues: [a]}}}}\n"
                   f"result_store: {{url: '{redis_url}'}}\n")
    oq = AsyncOmniQ.from_config_file(app)
    assert isinstance(oq.task_queue, AsyncRedisTaskQueue)
    assert isinstance(oq.result_store, AsyncRedisResultStore)
    await oq.close()
    bundle = AsyncOmniQ(project_name=project_name, backend_type="redis", url=redis_url)
    assert isinstance(bundle.backend, AsyncRedisBackend)
    assert isinstance(bundle.task_queue, AsyncRedisTaskQueue)
    assert isinstance(bundle.result_store, AsyncRedisResultStore)
    await bundle.close()
    by_url = AsyncOmniQ(project_name=project_name, task_queue=redis_url)
    assert isinstance(by_url.result_store, AsyncRedisResultStore)  # same server by default
    await by_url.close()


@pytest.mark.usefixtures("clean")
def test_sync_backend_bundle_builds_all_three(redis_url: str, project_name: str) -> None:
    backend = RedisBackend(project_name=project_name, url=redis_url)
    with OmniQ.from_backend(backend, event_store_backend=backend) as oq:
        oq.start_worker(max_workers=2)
        try:
            task_id = oq.enqueue(_tasks.add, 20, 22)
            assert oq.get_result(task_id, timeout=10) == 42
        finally:
            oq.stop_worker()
        assert isinstance(as_async(oq.event_store), AsyncRedisEventStore)
        assert isinstance(as_async(oq.result_store), AsyncRedisResultStore)


# -- keys ----------------------------------------------------------------------------------------
@pytest.mark.anyio
@pytest.mark.usefixtures("clean")
async def test_every_key_is_under_the_project_prefix(redis_url: str, project_name: str,
                                                     raw: aioredis.Redis) -> None:
    async with AsyncOmniQ(project_name=project_name, backend_type="redis", url=redis_url,
                          queues=["q1"], event_store="redis") as oq:
        await oq.start_worker(max_workers=2)
        parent = await oq.enqueue(_tasks.add, 1, 1, queue_name="q1")
        child = await oq.enqueue(_tasks.add, 2, 2, depends_on=[parent], result_ttl=60)
        await oq.schedule(_tasks.noop, interval=3600)
        assert await oq.get_result(child, timeout=10) == 4
        await oq.stop_worker()
        await oq.events.flush()
    ours = [k async for k in raw.scan_iter(match=f"*{project_name}*")]
    assert ours and all(k.startswith(f"omniq:{{{project_name}}}:".encode()) for k in ours)


# -- errors --------------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_wrong_password_is_a_clear_error_without_the_password() -> None:
    queue = AsyncRedisTaskQueue(url="redis://omniq-nobody:hunter2@127.0.0.1:6379/0")
    with pytest.raises(BackendError) as info:
        await queue.connect()
    text = str(info.value)
    assert "refused the credentials" in text and "hunter2" not in text
    assert "redis://omniq-nobody:***@127.0.0.1:6379/0" in text


@pytest.mark.anyio
async def test_unreachable_server_fails_fast_and_transiently() -> None:
    queue = AsyncRedisTaskQueue(url="redis://:pw@127.0.0.1:1/0", socket_connect_timeout=0.5)
    start = time.monotonic()
    with pytest.raises(BackendUnavailableError) as info:
        await queue.enqueue(_tasks.noop)
    assert time.monotonic() - start < 3
    assert "redis://:***@127.0.0.1:1/0" in str(info.value) and "pw" not in str(info.value)


@pytest.mark.anyio
@pytest.mark.usefixtures("clean")
async def test_a_key_of_the_wrong_type_under_our_prefix(project_name: str,
                                                       raw: aioredis.Redis) -> None:
    await raw.set(f"omniq:{{{project_name}}}:running", "not a sorted set")
    queue = AsyncRedisTaskQueue(project_name=project_name,
                                url="redis://default:topsecret@127.0.0.1:6379/0")
    async with queue:
        with pytest.raises(BackendError) as info:
            await queue.expired_leases(utcnow())
    text = str(info.value)
    assert "wrong kind of value" in text and f"omniq:{{{project_name}}}:" in text
    assert "redis://default:***@127.0.0.1:6379/0" in text and "topsecret" not in text


@pytest.mark.anyio
async def test_password_protected_server(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, "--requirepass", "s3cret-pw")
    server.start()
    try:
        url = f"redis://:s3cret-pw@127.0.0.1:{server.port}/0"
        async with AsyncRedisTaskQueue(url=url, project_name="pw") as queue:
            await queue.enqueue(_tasks.noop)
            assert await queue.count_tasks() == 1
        wrong = AsyncRedisTaskQueue(url=f"redis://:nope@127.0.0.1:{server.port}/0")
        with pytest.raises(BackendError, match="refused the credentials") as info:
            await wrong.connect()
        assert "nope" not in str(info.value)
        missing = AsyncRedisTaskQueue(port=server.port)
        with pytest.raises(BackendError) as info:
            await missing.connect()
        assert "refused the credentials" in str(info.value)
    finally:
        server.stop()


# -- blocking instead of polling -----------------------------------------------------------------
@pytest.mark.anyio
@pytest.mark.usefixtures("clean")
async def test_idle_worker_is_woken_at_once_not_by_polling(redis_url: str,
                                                          project_name: str) -> None:
    async with AsyncOmniQ(project_name=project_name, backend_type="redis", url=redis_url) as oq:
        # A poll interval of 5 s: only a push can explain results within milliseconds.
        await oq.start_worker(max_workers=2, poll_interval=5.0)
        try:
            await oq.get_result(await oq.enqueue(_tasks.noop), timeout=10)
            latencies = []
            for _ in range(20):
                start = time.perf_counter()
                await oq.get_result(await oq.enqueue(_tasks.add, 1, 2), timeout=10)
                latencies.append(time.perf_counter() - start)
        finally:
            await oq.stop_worker()
    assert statistics.median(latencies) < 0.05


@pytest.mark.anyio
@pytest.mark.usefixtures("clean")
async def test_a_delayed_task_wakes_its_worker_when_due(redis_url: str,
                                                       project_name: str) -> None:
    async with AsyncOmniQ(project_name=project_name, backend_type="redis", url=redis_url) as oq:
        await oq.start_worker(max_workers=2, poll_interval=5.0)
        try:
            await oq.get_result(await oq.enqueue(_tasks.noop), timeout=10)
            start = time.perf_counter()
            task_id = await oq.enqueue(_tasks.noop, run_in=0.3)
            await oq.get_result(task_id, timeout=10)
            took = time.perf_counter() - start
        finally:
            await oq.stop_worker()
    assert 0.3 <= took < 1.0


@pytest.mark.anyio
@pytest.mark.usefixtures("clean")
async def test_result_waiters_are_woken_by_the_channel(redis_url: str,
                                                      project_name: str) -> None:
    async with AsyncRedisResultStore(project_name=project_name, url=redis_url) as waiter, \
            AsyncRedisResultStore(project_name=project_name, url=redis_url) as writer:
        now = utcnow()
        results: list[bytes | None] = []

        async def wait() -> None:
            # A poll interval of 10 s: only the pub/sub push can wake this in time.
            results.append(await waiter.wait_blob("t1", 5.0, 10.0))

        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            assert await waiter._ensure_listener()
            start = time.perf_counter()
            await writer.put_blob("t1", b"blob-1", expires_at=None, schedule_id=None,
                                  finished_at=now)
        assert results == [b"blob-1"] and time.perf_counter() - start < 1.0


@pytest.mark.anyio
@pytest.mark.usefixtures("clean")
async def test_results_expire_natively(redis_url: str, project_name: str,
                                       raw: aioredis.Redis) -> None:
    async with AsyncRedisResultStore(project_name=project_name, url=redis_url) as store:
        now = utcnow()
        await store.put_blob("kept", b"x", expires_at=None, schedule_id=None, finished_at=now)
        await store.put_blob("hour", b"x", expires_at=now + timedelta(hours=1),
                             schedule_id="s", finished_at=now)
        await store.put_blob("gone", b"x", expires_at=now - timedelta(seconds=1),
                             schedule_id=None, finished_at=now)
        prefix = f"omniq:{{{project_name}}}:r:"
        assert await raw.pttl(prefix + "kept") == -1
        assert 3_590_000 < await raw.pttl(prefix + "hour") <= 3_600_000
        assert await raw.exists(prefix + "gone") == 0
        assert await store.purge_expired(now) == 0


@pytest.mark.anyio
@pytest.mark.usefixtures("clean")
async def test_a_remembered_announcement_is_not_handed_out_after_its_expiry(
        redis_url: str, project_name: str) -> None:
    # The store remembers announced results for a few seconds, so a waiter that comes just
    # after the announcement needs no round trip; a result_ttl shorter than that memory must
    # still hold: once expired, the result is gone to every reader.
    async with AsyncRedisResultStore(project_name=project_name, url=redis_url) as store:
        finished = utcnow()
        result = TaskResult(task_id="t1", status=TaskStatus.COMPLETED, result=7,
                            finished_at=finished, expires_at=finished + timedelta(seconds=0.3))
        values: list[Any] = []

        async def wait() -> None:
            values.append((await store.wait("t1", 5.0)).result)

        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            assert await store._ensure_listener()
            await store.set(result)
        assert values == [7]
        await anyio.sleep(0.4)
        assert "t1" in store._recent  # still remembered, and not handed out:
        with pytest.raises(TaskTimeoutError):
            await store.wait("t1", 0.2)
        assert await store.get("t1") is None


# -- the layout pays off: cost flat in depth, batches -------------------------------------------
@pytest.mark.anyio
@pytest.mark.usefixtures("clean")
async def test_claim_cost_does_not_grow_with_queue_depth(redis_url: str,
                                                         project_name: str) -> None:
    """A claim from 50,000 waiting tasks costs about what it costs from 500 (sorted sets,
    no scans; bench/scale_redis.py measures 1,000 against 1,000,000). The two are sampled in
    turn, so a busy machine slows both alike."""
    from omniq._ids import new_id

    async def fill(queue_name: str, depth: int) -> None:
        template = queue.build_task(_tasks.noop, queue_name=queue_name)
        for start in range(0, depth + 200, 5000):
            await queue.add_tasks([msgspec.structs.replace(template, id=new_id())
                                   for _ in range(min(5000, depth + 200 - start))])

    async def timed_claim(queue_name: str) -> float:
        began = time.perf_counter()
        assert len(await queue.claim([queue_name], worker_id="w", lease=60, now=utcnow()))
        return time.perf_counter() - began

    async with AsyncRedisTaskQueue(project_name=project_name, url=redis_url) as queue:
        await fill("shallow", 500)
        await fill("deep", 50_000)
        shallow, deeper = [], []
        for _ in range(200):
            shallow.append(await timed_claim("shallow"))
            deeper.append(await timed_claim("deep"))
    small, deep = statistics.median(shallow), statistics.median(deeper)
    assert deep < small * 2 + 0.0005


@pytest.mark.anyio
@pytest.mark.usefixtures("clean")
async def test_claim_takes_a_batch_in_one_call_and_respects_order(redis_url: str,
                                                                  project_name: str) -> None:
    async with AsyncRedisTaskQueue(project_name=project_name, url=redis_url) as queue:
        now = utcnow()
        low = [queue.build_task(_tasks.noop, queue_name="low", now=now) for _ in range(3)]
        high = [queue.build_task(_tasks.noop, queue_name="high", priority=p, now=now)
                for p in (1, 5, 3)]
        later = queue.build_task(_tasks.noop, queue_name="high", priority=9,
                                 run_at=now + timedelta(seconds=30), now=now)
        await queue.add_tasks([*low, *high, later])
        got = await queue.claim(["high", "low"], worker_id="w", lease=5, now=now, limit=5)
        assert [t.id for t in got] == [high[1].id, high[2].id, high[0].id, low[0].id, low[1].id]
        got = await queue.claim(["high", "low"], worker_id="w", lease=5, now=now, limit=5)
        assert [t.id for t in got] == [low[2].id]
        assert all(t.status == TaskStatus.RUNNING and t.attempts == 1 for t in got)
        # The eta of the delayed task is remembered, so an idle worker wakes for it.
        assert queue._next_eta[("high", "low")] is not None
        assert [t.id for t in await queue.claim(["high"], worker_id="w", lease=5,
                                                now=now + timedelta(seconds=31))] == [later.id]


@pytest.mark.anyio
async def test_sentinel_names_the_master(tmp_path: Path) -> None:
    import shutil
    import socket
    import subprocess

    master = RedisServer(tmp_path)
    master.start()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = tmp_path / "sentinel.conf"
    conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
                    f"sentinel monitor omniqmaster 127.0.0.1 {master.port} 1\n")
    sentinel = subprocess.Popen([shutil.which("redis-server") or "redis-server", str(conf),
                                 "--sentinel"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    try:
        with anyio.fail_after(10):
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    await anyio.sleep(0.02)
        options = {"sentinels": [("127.0.0.1", port)], "sentinel_master": "omniqmaster",
                   "project_name": "sentinel"}
        async with AsyncOmniQ(project_name="sentinel",
                              task_queue=AsyncRedisTaskQueue(**options),
                              result_store=AsyncRedisResultStore(**options)) as oq:
            assert oq.task_queue.where == f"redis-sentinel://127.0.0.1:{port}/omniqmaster"
            await oq.start_worker(max_workers=2)
            try:
                assert await oq.get_result(await oq.enqueue(_tasks.add, 4, 5), timeout=10) == 9
            finally:
                await oq.stop_worker()
        direct = aioredis.Redis(port=master.port)
        assert await direct.exists("omniq:{sentinel}:x:*") == 1  # the data is on the master
        await direct.aclose()
    finally:
        sentinel.kill()
        sentinel.wait(5)
        master.stop()


@pytest.mark.anyio
@pytest.mark.usefixtures("clean")
async def test_completion_and_result_go_together_and_a_stale_attempt_writes_neither(
        redis_url: str, project_name: str) -> None:
    from omniq.models import TaskResult

    async with AsyncRedisTaskQueue(project_name=project_name, url=redis_url) as queue, \
            AsyncRedisResultStore(project_name=project_name, url=redis_url) as store:
        task_id = await queue.enqueue(_tasks.add, 2, 3)
        [first] = await queue.claim(["default"], worker_id="w1", lease=0.05, now=utcnow())
        await anyio.sleep(0.1)
        assert [t.id for t in await queue.recover_leases()] == [task_id]
        [second] = await queue.claim(["default"], worker_id="w2", lease=30, now=utcnow())
        assert (first.attempts, second.attempts) == (1, 2)

        def outcome(task: object, value: int) -> tuple[object, TaskResult]:
            done = queue.completed(task, utcnow())  # type: ignore[arg-type]
            return done, TaskResult(task_id=task_id, status=TaskStatus.COMPLETED,
                                    result=value, attempts=done.attempts,
                                    finished_at=utcnow())

        heard: list[bytes | None] = []

        async def listen() -> None:
            heard.append(await store.wait_blob(task_id, 5.0, 10.0))

        async with anyio.create_task_group() as tg:
            tg.start_soon(listen)
            assert await store._ensure_listener()
            # The first worker comes back late: fenced off, and its result is not written.
            stale, stale_result = outcome(first, -1)
            assert queue.writes_results_for(store)
            assert await queue.finish([(stale, 1)], [store.record(stale_result)]) == [False]
            assert await store.get(task_id) is None
            await anyio.sleep(0.05)
            assert heard == []  # nothing announced for the refused attempt
            done, result = outcome(second, 5)
            assert await queue.finish([(done, 2)], [store.record(result)]) == [True]
        assert (await queue.get_task(task_id)).status == TaskStatus.COMPLETED
        assert (await store.get(task_id)).result == 5
        assert heard and store.decode(heard[0]).result == 5


@pytest.mark.anyio
async def test_a_result_store_elsewhere_is_written_after_the_completion(
        redis_url: str, project_name: str) -> None:
    async with AsyncRedisTaskQueue(project_name=project_name, url=redis_url) as queue, \
            AsyncRedisResultStore(project_name=project_name + "-other",
                                    url=redis_url) as other:
        assert not queue.writes_results_for(other)
