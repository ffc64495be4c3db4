"""What is specific to the ``nats`` backend (the contracts themselves are in the conformance
kit, ``test_nats_conformance.py``): constructor forms, names on the server, clear errors,
wake-ups without polling, and the seeds' NATS examples run as written."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import nats
import pytest
from nats_server import NATSServer
from omniq import AsyncOmniQ, OmniQ, TaskFailedError
from omniq.backend import NATSBackend
from omniq.exceptions import BackendError, BackendUnavailableError, ConfigError
from omniq.models import EventType, NATSTaskQueueConfig, TaskEvent, TaskStatus
from omniq.queue import NATSTaskQueue
from omniq.storage import NATSEventStorage, NATSResultStorage
from omniq.testing import _tasks
from omniq_nats import (
    AsyncNATSBackend,
    AsyncNATSEventStore,
    AsyncNATSResultStore,
    AsyncNATSTaskQueue,
)
from seed_tasks import add_numbers, async_add_numbers, async_task, simple_task

pytestmark = pytest.mark.nats


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _streams_of(url: str, project_name: str) -> list[str]:
    nc = await nats.connect(url)
    try:
        names = await nc.jetstream().streams_info()
        return [s.config.name for s in names if project_name in s.config.name]
    finally:
        await nc.close()


async def _drop(url: str, project_name: str) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        for name in await _streams_of(url, project_name):
            await js.delete_stream(name)
    finally:
        await nc.close()


@pytest.fixture
def project(nats_url: str, project_name: str,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The test's project name, also the default for components built without one (as the
    seeds build them); its streams and buckets are deleted afterwards."""
    monkeypatch.setenv("OMNIQ_PROJECT_NAME", project_name)
    yield project_name
    asyncio.run(_drop(nats_url, project_name))


# -- constructor forms ---------------------------------------------------------------------------
def test_seed_form_servers_list_in_a_plain_script(project: str) -> None:
    queue = NATSTaskQueue(servers=["nats://localhost:4222"])
    task_id = queue.enqueue(_tasks.add, 2, 3)
    assert queue.get_task(task_id).status == TaskStatus.PENDING
    assert queue.count_tasks() == 1 and queue.project_name == project
    queue.close()


def test_urls_with_credentials_are_redacted_and_lists_accepted() -> None:
    queue = AsyncNATSTaskQueue(url="nats://alice:s3cret@nats.example:4222")
    assert "s3cret" not in repr(queue) and "alice:***@nats.example:4222" in repr(queue)
    token = AsyncNATSTaskQueue(servers="nats://t0ken@a:4222, nats://b:4222")
    assert token.where == "nats://***@a:4222,nats://b:4222"
    both = AsyncNATSTaskQueue(servers=["nats://a:4222", "tls://b:4443"])
    assert both.connection_settings()["servers"] == ["nats://a:4222", "tls://b:4443"]


def test_bad_connection_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="not a NATS URL"):
        AsyncNATSTaskQueue(url="redis://localhost:6379")
    with pytest.raises(ConfigError, match="servers"):
        AsyncNATSTaskQueue(servers=[4222])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="client"):
        AsyncNATSTaskQueue(client=object())
    with pytest.raises(ConfigError, match="a NATS URL with a bad port.*from 1 to 65535"):
        AsyncNATSTaskQueue(url="nats://127.0.0.1:99999")


@pytest.mark.anyio
async def test_credentials_without_nkeys_and_each_tls_file_are_named(tmp_path: Path) -> None:
    if importlib.util.find_spec("nkeys") is None:  # nats-py needs it to sign; not installed
        queue = AsyncNATSTaskQueue(project_name="p", user_credentials=str(tmp_path / "a.creds"))
        with pytest.raises(ConfigError, match="user_credentials needs the nkeys package.*"
                                              "pip install nkeys"):
            await queue.connect()
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate")
    queue = AsyncNATSTaskQueue(project_name="p", servers=["tls://127.0.0.1:4222"],
                               tls_ca_file=str(ca), tls_cert_file=str(tmp_path / "c.pem"),
                               tls_key_file=str(tmp_path / "c.key"))
    with pytest.raises(ConfigError) as caught:  # the CA, the first read, is the one at fault
        await queue.connect()
    assert caught.value.field == "tls_ca_file" and str(ca) in str(caught.value)


def test_credentials_and_tls_files_pass_through_to_sibling_components() -> None:
    queue = AsyncNATSTaskQueue(servers=["nats://a:4222"], user="u", password="p",
                               user_credentials="/etc/nats/app.creds",
                               tls_ca_file="ca.pem", tls_cert_file="c.pem",
                               tls_key_file="k.pem", name_prefix="app")
    results = queue.default_result_store()
    assert isinstance(results, AsyncNATSResultStore)
    settings = results.connection_settings()
    assert settings["user_credentials"] == "/etc/nats/app.creds"
    assert (settings["user"], settings["password"]) == ("u", "p")
    assert (settings["tls_ca_file"], settings["tls_cert_file"], settings["tls_key_file"]) == \
        ("ca.pem", "c.pem", "k.pem")
    assert results.bucket.startswith("app_")


@pytest.mark.anyio
async def test_unreadable_tls_files_are_a_config_error(tmp_path: Path) -> None:
    queue = AsyncNATSTaskQueue(project_name="p", servers=["tls://127.0.0.1:4222"],
                               tls_ca_file=str(tmp_path / "missing-ca.pem"))
    with pytest.raises(ConfigError, match="cannot load the TLS file .*missing-ca.pem") as caught:
        await queue.connect()
    assert caught.value.field == "tls_ca_file"


@pytest.mark.anyio
async def test_data_over_the_servers_max_payload_is_refused_with_its_size(
        nats_url: str, project: str) -> None:
    # The server takes 1 MB messages by default: a larger argument is refused at enqueue,
    # before anything is stored; a larger result dead-letters its task, and the worker goes
    # on (the write was refused and retried for ever, holding every later completion).
    async with AsyncOmniQ(project_name=project, backend_type="nats", url=nats_url) as oq:
        with pytest.raises(ConfigError, match=r"bytes encoded, more than the [\d,]+ this NATS "
                                              "server takes") as refused:
            await oq.enqueue_many(_tasks.identity, [("small",), ("z" * 2_000_000,)])
        assert "raise max_payload" in str(refused.value)
        assert await oq.task_queue.count_tasks() == 0
        await oq.start_worker(worker_type="async", max_workers=2, poll_interval=0.05)
        try:
            big = await oq.enqueue(_tasks.identity, "z" * 600_000)
            with pytest.raises(TaskFailedError, match="its return value cannot be stored: it "
                                                      "is [\\d,]+ bytes encoded"):
                await oq.get_result(await oq.enqueue(_repeat, "z", 2_000_000), timeout=20)
            assert await oq.get_result(big, timeout=20) == "z" * 600_000
            assert await oq.get_result(await oq.enqueue(_tasks.add, 2, 2), timeout=20) == 4
        finally:
            await oq.stop_worker()


def _repeat(text: str, times: int) -> str:
    return text * times


@pytest.mark.anyio
async def test_several_servers_one_of_them_down(nats_url: str, project: str) -> None:
    async with AsyncNATSTaskQueue(servers=["nats://127.0.0.1:1", nats_url],
                                  user="anyone", password="ignored-by-an-open-server") as q:
        task_id = await q.enqueue(_tasks.noop)
        assert (await q.get_task(task_id)).status == TaskStatus.PENDING


@pytest.mark.anyio
async def test_unreachable_server_is_backend_unavailable_quickly() -> None:
    queue = AsyncNATSTaskQueue(project_name="p", url="nats://alice:s3cret@127.0.0.1:1",
                               connect_timeout=0.5)
    with anyio.fail_after(10), pytest.raises(BackendUnavailableError) as caught:
        await queue.enqueue(_tasks.noop)
    assert "s3cret" not in str(caught.value) and "127.0.0.1:1" in str(caught.value)


@pytest.mark.anyio
async def test_refused_credentials_say_so(tmp_path: Path) -> None:
    server = NATSServer(tmp_path / "js", "--user", "alice", "--pass", "s3cret")
    server.start()
    try:
        wrong = AsyncNATSTaskQueue(project_name="p", url=f"nats://alice:nope@127.0.0.1:"
                                   f"{server.port}")
        with anyio.fail_after(10), pytest.raises(BackendError,
                                                 match="refused the credentials") as caught:
            await wrong.enqueue(_tasks.noop)
        assert not isinstance(caught.value, BackendUnavailableError)
        assert "nope" not in str(caught.value)
        async with AsyncNATSTaskQueue(project_name="p", servers=[server.url], user="alice",
                                      password="s3cret") as right:
            assert await right.get_task(await right.enqueue(_tasks.noop)) is not None
    finally:
        server.kill()


@pytest.mark.anyio
async def test_retention_settings_reach_the_server(nats_url: str, project: str) -> None:
    async with AsyncNATSResultStore(project_name=project, url=nats_url, max_age=3600) as rs, \
            AsyncNATSEventStore(project_name=project, url=nats_url, max_age=7200,
                                file_storage=False) as es:
        results = await rs.js.stream_info(f"KV_omniq_{project}_results")
        events = await es.js.stream_info(f"omniq_{project}_events")
    assert results.config.max_age == 3600
    assert events.config.max_age == 7200 and events.config.storage == "memory"


@pytest.mark.anyio
async def test_an_event_appended_twice_is_stored_once(nats_url: str, project: str) -> None:
    event = TaskEvent(id="ev-1", type=EventType.ENQUEUED, timestamp=dt.datetime.now(dt.UTC),
                      task_id="t-1")
    async with AsyncNATSEventStore(project_name=project, url=nats_url) as store:
        await store.append([event])
        await store.append([event])  # a retried append
        assert [e.id for e in await store.query(task_id="t-1")] == ["ev-1"]


@pytest.mark.anyio
async def test_config_struct_yaml_env_and_type_names(nats_url: str, project: str,
                                                     tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    queue = AsyncNATSTaskQueue.from_config(NATSTaskQueueConfig(
        url=nats_url, project_name=project, queues=["high", "low"]))
    assert queue.queues == ["high", "low", "default"]
    path = tmp_path / "queue.yaml"
    path.write_text(f"servers: ['{nats_url}']\nproject_name: {project}\nqueues: [a, b]\n")
    async with AsyncNATSTaskQueue.from_config_file(path) as from_file:
        await from_file.enqueue(_tasks.noop, queue_name="b")
        assert await from_file.count_tasks(queue_name="b") == 1
    app = tmp_path / "omniq.yaml"
    app.write_text(f"project_name: {project}\n"
                   f"task_queue: {{type: nats, url: '{nats_url}', config: {{queues: [a]}}}}\n"
                   f"result_store: {{url: '{nats_url}'}}\n"
                   f"event_store: {{type: nats, config: {{servers: ['{nats_url}']}}}}\n")
    oq = AsyncOmniQ.from_config_file(app)
    assert isinstance(oq.task_queue, AsyncNATSTaskQueue)
    assert isinstance(oq.result_store, AsyncNATSResultStore)
    assert isinstance(oq.event_store, AsyncNATSEventStore)
    await oq.close()
    bundle = AsyncOmniQ(project_name=project, backend_type="nats", url=nats_url)
    assert isinstance(bundle.backend, AsyncNATSBackend)
    assert isinstance(bundle.task_queue, AsyncNATSTaskQueue)
    await bundle.close()
    monkeypatch.setenv("OMNIQ_TASK_QUEUE_TYPE", "nats")
    monkeypatch.setenv("OMNIQ_TASK_QUEUE_URL", nats_url)
    from_env = AsyncOmniQ()
    assert isinstance(from_env.task_queue, AsyncNATSTaskQueue)
    assert isinstance(from_env.result_store, AsyncNATSResultStore)  # same server by default
    await from_env.close()


# -- names on the server -------------------------------------------------------------------------
@pytest.mark.anyio
async def test_a_project_owns_two_buckets_and_one_stream(nats_url: str, project: str) -> None:
    async with AsyncOmniQ(project_name=project, backend_type="nats", url=nats_url,
                          event_store="nats") as oq:
        await oq.start_worker(max_workers=2)
        parent = await oq.enqueue(_tasks.add, 1, 1)
        child = await oq.enqueue(_tasks.add, 2, 2, depends_on=[parent], result_ttl=60)
        await oq.schedule(_tasks.noop, interval=3600)
        assert await oq.get_result(child, timeout=10) == 4
        await oq.stop_worker()
        await oq.events.flush()
        assert [e.type.value for e in await oq.get_events(child)][-1] == "COMPLETE"
    assert sorted(await _streams_of(nats_url, project)) == [
        f"KV_omniq_{project}_results", f"KV_omniq_{project}_tasks", f"omniq_{project}_events"]


# -- waiting without polling ---------------------------------------------------------------------
@pytest.mark.anyio
async def test_a_delayed_task_costs_no_round_trips_while_it_waits(nats_url: str,
                                                                  project: str) -> None:
    async with AsyncNATSTaskQueue(project_name=project, url=nats_url) as queue:
        await queue.enqueue(_tasks.noop, run_in=0.6)
        before = queue.nc.stats["out_msgs"]
        started = anyio.current_time()
        claimed = []
        while not claimed:
            claimed = await queue.claim_when_ready(["default"], worker_id="w", lease=30,
                                                   limit=1, timeout=10)
        assert 0.5 <= anyio.current_time() - started < 2
        # Each wait costs one request (is the local copy current?) and one claim: a handful,
        # not one per poll interval.
        assert queue.nc.stats["out_msgs"] - before < 12


@pytest.mark.anyio
async def test_a_producer_receives_no_writes_until_it_queries(nats_url: str,
                                                             project: str) -> None:
    async with AsyncNATSTaskQueue(project_name=project, url=nats_url) as producer, \
            AsyncNATSTaskQueue(project_name=project, url=nats_url) as other:
        for _ in range(20):
            await producer.enqueue(_tasks.noop)
        await other.enqueue(_tasks.noop)
        # No watch on the bucket yet: the producer's writes do not come back to it.
        info = await producer.js.stream_info(f"KV_omniq_{project}_tasks")
        assert info.state.consumer_count == 0 and producer.nc.stats["in_msgs"] < 30
        # The first query starts the watch and sees every write, the other instance's too.
        assert await producer.count_tasks(status=TaskStatus.PENDING) == 21
        info = await producer.js.stream_info(f"KV_omniq_{project}_tasks")
        assert info.state.consumer_count == 1


# -- the seeds' NATS examples, as written --------------------------------------------------------
def test_seed003_nats_task_queue(project: str) -> None:
    queue = NATSTaskQueue(servers=["nats://localhost:4222"])
    with OmniQ(task_queue=queue) as omniq:
        omniq.start_worker()
        task_id_default = omniq.enqueue(simple_task, "Hello from default queue!")
        task_id_priority = omniq.enqueue(simple_task, "High priority task",
                                         queue_name="priority_queue")
        assert omniq.get_result(task_id_default, timeout=10) == "Hello from default queue!"
        assert omniq.get_task(task_id_priority).queue_name == "priority_queue"
        assert isinstance(omniq._async.result_store, AsyncNATSResultStore)
        omniq.stop_worker()


@pytest.mark.anyio
async def test_seed001_basic_usage_async_on_nats(project: str) -> None:
    oq = AsyncOmniQ(
        task_queue=NATSTaskQueue(servers=["nats://localhost:4222"],
                                 queues=["low", "medium", "high"]),
        result_store=NATSResultStorage(servers=["nats://localhost:4222"]),
        event_store=NATSEventStorage(servers=["nats://localhost:4222"]),
    )
    await oq.start_worker()
    task_id = await oq.enqueue(func=async_task, func_args=dict(name="Tom"), queue_name="low",
                               run_in=dt.timedelta(seconds=0.1), ttl=dt.timedelta(hours=1),
                               result_ttl=dt.timedelta(minutes=5))
    assert await oq.get_result(task_id, timeout=10) == "Tom"
    schedule_id = await oq.schedule(func=async_task, func_args=dict(name="Tom"),
                                    interval=dt.timedelta(seconds=10), queue_name="low")
    with anyio.fail_after(10):
        while await oq.get_result(schedule_id=schedule_id, kind="latest") is None:
            await asyncio.sleep(0.05)
    assert await oq.get_result(schedule_id=schedule_id, kind="all") == ["Tom"]
    await oq.stop_worker()
    types = [e.type.value for e in await oq.get_events(task_id)]
    assert types[:1] == ["ENQUEUED"] and "COMPLETE" in types
    await oq.close()


def test_seed001_and_004_backend_type_nats(project: str) -> None:
    with OmniQ(backend_type="nats") as oq:
        oq.start_worker()
        task_id = oq.enqueue(simple_task, func_args=dict(name="Tom"),
                             run_in=dt.timedelta(seconds=0.1),
                             result_ttl=dt.timedelta(minutes=5))
        assert oq.get_result(task_id, timeout=10) == "Tom"
        schedule_id = oq.schedule(func=simple_task, func_args=dict(name="Tom"),
                                  interval=dt.timedelta(seconds=10))
        assert oq.pause_schedule(schedule_id) and oq.resume_schedule(schedule_id)
        oq.stop_worker()


def test_seed004_backend_class_and_async_usage(project: str) -> None:
    backend = NATSBackend(servers=["nats://localhost:4222"])
    with OmniQ.from_backend(backend, worker_type="thread_pool",
                            worker_config={"max_workers": 2}) as oq:
        oq.start_worker()
        try:
            task_id = oq.enqueue(func=add_numbers, func_args={"x": 5, "y": 10})
            assert oq.get_result(task_id, timeout=10) == 15
            assert oq.get_task(task_id).status == "completed"
        finally:
            oq.stop_worker()

    async def main() -> int:
        async with OmniQ(backend_type="nats") as oq:
            await oq.start_worker_async(worker_type="async", max_workers=2)
            try:
                task_id = await oq.enqueue_async(func=async_add_numbers,
                                                 func_args={"x": 5, "y": 10})
                return await oq.get_result_async(task_id, timeout=10)
            finally:
                await oq.stop_worker_async()

    assert asyncio.run(main()) == 15


def test_a_blocking_client_runs_its_calls_itself_and_stays_connected_while_idle(
        tmp_path: Path) -> None:
    """nats-py keeps tasks on the blocking API's loop (readers, flushers, pingers,
    subscriptions). They do not keep a thread running it between calls, which would make
    every call a hop to that thread; but the loop gives them a turn every second, so a client
    left idle still answers the server's pings (here every second, and the server drops a
    client after two unanswered) and keeps its connection."""
    from omniq.sync import as_async, run_sync

    async def thread_ident() -> int:
        return threading.get_ident()

    config = tmp_path / "nats.conf"
    config.write_text('ping_interval: "1s"\nping_max: 2\n')
    server = NATSServer(tmp_path / "js", "-c", str(config))
    server.start()
    try:
        with OmniQ(project_name="idle", backend_type="nats", url=server.url) as oq:
            oq.enqueue(simple_task, "before")
            assert run_sync(thread_ident) == threading.get_ident()
            connections = [as_async(oq.task_queue).nc, as_async(oq.result_store).nc]
            time.sleep(5)  # five of the server's pings
            oq.enqueue(simple_task, "after")
            assert oq.task_queue.count_tasks(status=TaskStatus.PENDING) == 2
            # Dropped as stale, a connection would have come back, counted, at this call.
            assert [c.stats["reconnects"] for c in connections] == [0, 0]
    finally:
        server.kill()
