"""Bad input is answered clearly and loses nothing (issue 2)."""

from __future__ import annotations

import datetime as dt
import functools
import socket

import anyio
import pytest
from omniq import (
    AsyncOmniQ,
    ConfigError,
    OmniQ,
    PluginNotFoundError,
    ScheduleNotFoundError,
    SerializationError,
    TaskFailedError,
    TaskNotFoundError,
)
from omniq.storage.memory import AsyncMemoryResultStore
from seed_tasks import add_numbers


@pytest.mark.usefixtures("without_omniq_nats")
def test_unknown_backend_type_lists_installed_types_and_install_hint() -> None:
    with pytest.raises(PluginNotFoundError) as info:
        OmniQ(project_name="p", backend_type="nats")
    message = str(info.value)
    assert "memory" in message and 'pip install omniq-nats' in message
    assert "pip install -e ./omniq-nats" in message
    assert "omniq[" not in message  # an extra of the unrelated project on the public index
    with pytest.raises(PluginNotFoundError, match="no installed plugin"):
        OmniQ(project_name="p", backend_type="kafkaesque")


def test_malformed_config_file_names_the_file_and_line(tmp_path) -> None:
    path = tmp_path / "omniq.yaml"
    path.write_text("project_name: p\ntask_queue:\n  type: [memory\n")
    with pytest.raises(ConfigError) as info:
        OmniQ.from_config_file(path)
    assert str(path) in str(info.value) and "line" in str(info.value)


def test_config_with_wrong_type_names_field_value_and_expectation() -> None:
    with pytest.raises(ConfigError) as info:
        OmniQ.from_config_dict({"project_name": "p", "worker": {"type": 3}})
    assert "worker" in str(info.value) and "3" in str(info.value)


@pytest.mark.anyio
async def test_unpicklable_argument_is_refused_and_nothing_is_enqueued() -> None:
    async with AsyncOmniQ(project_name="p", backend_type="memory") as oq:
        sock = socket.socket()
        try:
            with pytest.raises(SerializationError, match="socket"):
                await oq.enqueue(add_numbers, sock, 1)
        finally:
            sock.close()
        assert await oq.list_tasks() == []


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["../etc", "a/b", "a\\b", "has space", "", "x" * 200, "q*"])
async def test_queue_name_with_path_separator_or_junk_is_refused(name: str) -> None:
    async with AsyncOmniQ(project_name="p", backend_type="memory") as oq:
        with pytest.raises(ConfigError, match="queue"):
            await oq.enqueue(add_numbers, 1, 2, queue_name=name)
        assert await oq.list_tasks() == []
    with pytest.raises(ConfigError):
        AsyncOmniQ(project_name="p", backend_type="memory", queues=["ok", name])


@pytest.mark.anyio
async def test_enqueue_to_an_undeclared_queue_is_refused() -> None:
    async with AsyncOmniQ(project_name="p", backend_type="memory", queues=["high"]) as oq:
        with pytest.raises(ConfigError, match="declared"):
            await oq.enqueue(add_numbers, 1, 2, queue_name="elsewhere")
        # The default queue is always served, so no queue name is never stranded.
        assert await oq.enqueue(add_numbers, 1, 2)


@pytest.mark.anyio
async def test_get_result_of_unknown_id_raises_task_not_found() -> None:
    async with AsyncOmniQ(project_name="p", backend_type="memory") as oq:
        with pytest.raises(TaskNotFoundError):
            await oq.get_result("no-such-task", timeout=1)
        with pytest.raises(LookupError):  # the error tree subclasses built-ins
            await oq.get_result("no-such-task")


@pytest.mark.anyio
async def test_get_result_times_out_with_timeout_error() -> None:
    async with AsyncOmniQ(project_name="p", backend_type="memory") as oq:
        task_id = await oq.enqueue(add_numbers, 1, 2)  # no worker runs it
        with pytest.raises(TimeoutError, match="in queue 'default', not taken yet: is a "
                                               r"worker serving that queue\?"):
            await oq.get_result(task_id, timeout=0.2)
        assert (await oq.get_task(task_id)).status == "pending"  # and it is not lost
        later = await oq.enqueue(add_numbers, 1, 2, run_in=3600)
        with pytest.raises(TimeoutError, match=r"status pending, due at 20\d\d-"):
            await oq.get_result(later, timeout=0.1)
        child = await oq.enqueue(add_numbers, 1, 2, depends_on=[task_id])
        with pytest.raises(TimeoutError, match="waiting: its dependencies"):
            await oq.get_result(child, timeout=0.1)


@pytest.mark.anyio
async def test_a_schedules_failed_run_is_an_error_and_an_unknown_schedule_is_named() -> None:
    # A failed run was given as None, like a run that returned None.
    async with AsyncOmniQ(project_name="p", backend_type="memory") as oq:
        schedule_id = await oq.schedule(fail_with, "no stock", interval=0.05, max_runs=2,
                                        max_retries=0)
        await oq.start_worker(worker_type="async", poll_interval=0.02,
                              maintenance_interval=0.02)
        try:
            with pytest.raises(TaskFailedError, match="ValueError: no stock"):
                await oq.get_result(schedule_id=schedule_id, timeout=10)
            with anyio.fail_after(10):
                while len(runs := await oq.get_result(schedule_id=schedule_id, kind="all")) < 2:
                    await anyio.sleep(0.05)
            assert all(isinstance(run, TaskFailedError) for run in runs)
            with pytest.raises(ScheduleNotFoundError, match="no schedule with id 'nope'"):
                await oq.get_result(schedule_id="nope", timeout=0.2)
        finally:
            await oq.stop_worker()


def fail_with(message: str) -> None:
    raise ValueError(message)


class _Unanswering(AsyncMemoryResultStore):
    """A store gone quiet: each read waits as a driver does for its own timeout (NATS: 5 s)."""

    async def wait_blob(self, task_id: str, timeout: float, poll_interval: float) -> None:
        await anyio.sleep(30)


@pytest.mark.anyio
async def test_get_result_keeps_its_timeout_when_the_store_stops_answering() -> None:
    async with AsyncOmniQ(project_name="p", backend_type="memory",
                          result_store=_Unanswering(project_name="p")) as oq:
        task_id = await oq.enqueue(add_numbers, 1, 2)
        started = anyio.current_time()
        with pytest.raises(TimeoutError, match="no result after 0.5 s \\(the store did not "
                                               "answer in time\\)"):
            await oq.get_result(task_id, timeout=0.5)
        assert anyio.current_time() - started < 1.5


@pytest.mark.parametrize("flag", ["metrics", "tracing"])
def test_a_feature_flag_that_is_not_a_boolean_is_refused(flag: str) -> None:
    # "yes please" is truthy: taken as it came, it would switch the feature on unasked.
    with pytest.raises(ConfigError) as info:
        OmniQ(project_name="p", backend_type="memory", **{flag: "yes please"})
    assert f"field '{flag}' = 'yes please'" in str(info.value)
    assert f"True, False or None (None: OMNIQ_{flag.upper()})" in str(info.value)


@pytest.mark.parametrize(("backend_type", "settings", "expected"), [
    ("redis", {"hots": "127.0.0.1"},
     "unknown option 'hots' for the redis backend; field 'hots' = '127.0.0.1'; expected one of "
     "client, db, host, key_prefix"),
    ("redis", {"port": "six"}, "invalid value for option 'port' of the redis backend; "
     "field 'port' = 'six'; expected an integer"),
    ("nats", {"servrs": ["nats://127.0.0.1:4222"]}, "unknown option 'servrs' for the nats backend"),
    ("memory", {"url": "memory://"},
     "unknown option 'url' for the memory backend; field 'url' = 'memory://'; expected no options"),
])
def test_a_setting_the_backend_does_not_take_is_named(
        backend_type: str, settings: dict[str, object], expected: str) -> None:
    # These bundles hand their settings to each component they build: a setting none of them
    # takes is refused by name, not met as a TypeError from deep inside a constructor.
    with pytest.raises(ConfigError) as info:
        OmniQ(project_name="p", backend_type=backend_type, **settings)
    assert expected in str(info.value)
    if "hots" in settings:
        assert "did you mean 'host'" in str(info.value)


@pytest.mark.parametrize(("options", "meant"), [
    ({"backend_type": "sqlite", "queue": ["a"]}, "queues"),
    ({"backend_typ": "sqlite"}, "backend_type"),
    ({"projectname": "x"}, "project_name"),
    ({"backend_type": "redis", "event_stor": "redis"}, "event_store"),
])
def test_a_misspelt_parameter_of_omniq_itself_is_named(options: dict[str, object],
                                                       meant: str) -> None:
    # Unknown keywords go on to the backend; one close to OmniQ's own is that one misspelt.
    with pytest.raises(ConfigError) as info:
        OmniQ(project_name="p", **options)
    assert f"did you mean {meant!r}?" in str(info.value)
    assert "for OmniQ or its backend" in str(info.value) and "(the backend's)" in str(info.value)


@pytest.mark.anyio
async def test_a_url_alone_chooses_the_backend_by_its_scheme(
        tmp_path, project_name: str, redis_url: str) -> None:
    # As task_queue="sqlite:///..." and `omniq worker --url` do; not the memory default.
    async with AsyncOmniQ(project_name=project_name, url=f"sqlite:///{tmp_path}/t.db") as oq:
        task_id = await oq.enqueue(add_numbers, 1, 2)
    assert (tmp_path / "t.db").exists()
    async with AsyncOmniQ(project_name=project_name, backend_type="sqlite",
                          url=f"sqlite:///{tmp_path}/t.db") as again:
        assert (await again.get_task(task_id)).func_name.endswith("add_numbers")
    with OmniQ(project_name=project_name, url=redis_url) as oq:
        task_id = oq.enqueue(add_numbers, 1, 2)
        assert type(oq.result_store).__name__ == "RedisResultStore"  # results there too
    with OmniQ(project_name=project_name, backend_type="redis", url=redis_url) as again:
        assert again.get_task(task_id).status == "pending"
        assert again.delete_tasks([task_id]) == 1
    with pytest.raises(PluginNotFoundError, match="no installed task queue type handles the "
                                                  "URL 'kafka://x'; schemes handled: "):
        OmniQ(project_name=project_name, url="kafka://x")


def test_a_wait_that_is_not_a_duration_is_refused_and_a_timedelta_is_taken() -> None:
    with OmniQ(project_name="p", backend_type="memory") as oq:
        task_id = oq.enqueue(add_numbers, 1, 2)
        for call, field in [(lambda: oq.get_result(task_id, timeout="10"), "timeout"),
                            (lambda: oq.get_result(task_id, timeout=1, poll_interval="x"),
                             "poll_interval"),
                            (lambda: oq.get_result(schedule_id="s", timeout="x"), "timeout"),
                            (lambda: oq.stop_worker(timeout="soon"), "timeout")]:
            with pytest.raises(ConfigError, match=f"not a duration; field '{field}'"):
                call()
        with pytest.raises(ConfigError, match=r"field 'result_ttl' = '5m'; expected a "
                                              r"timedelta or a number of seconds, e\.g\. "
                                              r"timedelta\(minutes=5\) or 300"):
            oq.enqueue(add_numbers, 1, 2, result_ttl="5m")
        with pytest.raises(TimeoutError, match="after 0.1 s"):
            oq.get_result(task_id, timeout=dt.timedelta(seconds=0.1))
        assert oq.get_task(task_id).status == "pending"


def test_enqueue_many_without_an_iterable_is_refused_and_nothing_is_enqueued() -> None:
    with OmniQ(project_name="p", backend_type="memory") as oq:
        with pytest.raises(ConfigError, match="enqueue_many needs its items as an iterable; "
                                              "field 'items' = 5"):
            oq.enqueue_many(add_numbers, 5)
        assert oq.list_tasks() == []


@pytest.mark.parametrize(("option", "advice"), [
    ({"args": (1, 2)}, "pass positional arguments after the function: enqueue(func, 2, 3)"),
    ({"kwargs": {"x": 1}}, "use func_kwargs="),
    ({"queue": "high"}, "use queue_name='high'"),
    ({"countdown": 5}, "use run_in=seconds"),
    ({"job_id": "a"}, "use task_id="),
])
def test_celery_and_rq_option_names_are_answered_with_omniqs(option: dict[str, object],
                                                            advice: str) -> None:
    # The closest spelling would be wrong advice here ("args": did you mean 'tags'?).
    with OmniQ(project_name="p", backend_type="memory") as oq:
        with pytest.raises(ConfigError) as info:
            oq.enqueue(add_numbers, 1, 2, **option)
        assert advice in str(info.value) and "did you mean" not in str(info.value)
        assert oq.list_tasks() == []


def test_a_functions_own_arguments_given_as_options_are_named() -> None:
    def send(to, timeout):  # noqa: ANN001, ANN202
        return to

    with OmniQ(project_name="p", backend_type="memory") as oq:
        with pytest.raises(ConfigError, match=r"x, y: parameters of add_numbers\(\), not of "
                                              r"enqueue.*func_kwargs=\{'x': \.\.\., 'y'"):
            oq.enqueue(add_numbers, x=1, y=2)  # RQ's way
        with pytest.raises(ConfigError) as info:  # timeout= is the task's option
            oq.enqueue(send, "a", timeout=5)
        assert "missing a required argument: 'timeout'" in str(info.value)
        assert "pass the function's timeout as func_kwargs={'timeout': ...}" in str(info.value)
        with pytest.raises(ConfigError, match="enqueue_many gives each task an id of its own"):
            oq.enqueue_many(add_numbers, [(1, 2), (3, 4)], task_id="same")
        with pytest.raises(ConfigError, match=r"one string as its items.*\['abc'\]"):
            oq.enqueue_many(len, "abc")
        assert oq.list_tasks() == []


@pytest.mark.parametrize("option", [{"timeout": float("inf")}, {"result_ttl": 1e12},
                                    {"ttl": float("nan")}, {"run_in": 1e12},
                                    {"priority": 10**30}])
def test_durations_and_priorities_out_of_range_are_refused(option: dict[str, object]) -> None:
    # Accepted before, they broke the task in the worker (a date past 9999, an int of
    # infinity), which then stayed running for ever.
    with OmniQ(project_name="p", backend_type="memory") as oq:
        with pytest.raises(ConfigError, match="out of range|bad priority"):
            oq.enqueue(add_numbers, 1, 2, **option)
        assert oq.list_tasks() == []


@pytest.mark.parametrize(("url", "error"), [
    ("redis://:pw@127.0.0.1:bad/0", "bad port in the URL"),
    ("postgresql://postgres@127.0.0.1:99999/test", "bad port in the URL"),
    ("redis://127.0.0.1:6379/abc", "the database in a Redis URL is a number"),
    ("redis:/127.0.0.1:6379", "not a Redis URL"),
])
def test_a_malformed_url_is_refused_when_the_client_is_built(url: str, error: str) -> None:
    # A bad port was the driver's ValueError at the first call; "/abc" went to database 0.
    with pytest.raises(ConfigError, match=error):
        OmniQ(project_name="p", task_queue=url)


@pytest.mark.parametrize("key", ["", "  ", ",", 12345678])
def test_an_empty_or_non_string_secret_key_is_refused(key: object) -> None:
    # "" was taken as unset: each machine then signed with its own generated key.
    with pytest.raises(ConfigError, match="secret_key must be a non-empty string"):
        OmniQ(project_name="p", backend_type="memory", secret_key=key)


@pytest.mark.parametrize(("option", "advice"), [
    ({"broker": "redis://127.0.0.1:6379/0"}, "task_queue='redis://...'"),
    ({"result_backend": "redis://127.0.0.1:6379/1"}, "result_store='redis://...'"),
    ({"name": "shop"}, "project_name="),
])
def test_celery_and_rq_constructor_settings_are_answered_with_omniqs(
        option: dict[str, object], advice: str) -> None:
    with pytest.raises(ConfigError) as info:
        OmniQ(project_name="p", **option)
    assert advice in str(info.value) and "did you mean" not in str(info.value)


def test_a_backend_given_as_a_url_is_the_bundle_of_that_url(redis_url: str) -> None:
    with OmniQ(project_name="p", backend=redis_url) as oq:  # was "unknown task queue type"
        assert type(oq.task_queue).__name__ == "RedisTaskQueue"
        assert redis_url.rsplit("/", 1)[0] in repr(oq.task_queue)


def test_bad_options_are_config_errors() -> None:
    with OmniQ(project_name="p", backend_type="memory") as oq:
        with pytest.raises(ConfigError, match="max_retries"):
            oq.enqueue(add_numbers, 1, 2, max_retries=-1)
        with pytest.raises(ConfigError, match="naive"):
            oq.enqueue(add_numbers, 1, 2, run_at=dt.datetime(2030, 1, 1))
        with pytest.raises(ConfigError, match="run_at must be a datetime; field 'run_at'"):
            oq.enqueue(add_numbers, 1, 2, run_at="2030-01-01T00:00:00Z")
        # One string where a list is expected would be taken letter by letter.
        for name in ("tags", "depends_on"):
            with pytest.raises(ConfigError, match=f"{name} must be a list of strings"):
                oq.enqueue(add_numbers, 1, 2, **{name: "images"})
        assert oq.list_tasks() == []
        with pytest.raises(ConfigError, match="unknown task status; field 'status' = 'done'; "
                                              "expected one of pending, "):
            oq.list_tasks(status="done")
        with pytest.raises(ConfigError, match="callback_args without a callback"):
            oq.enqueue(add_numbers, 1, 2, callback_args={"to": "me"})
        with pytest.raises(ConfigError, match="invalid task_id; field 'task_id' = ''"):
            oq.enqueue(add_numbers, 1, 2, task_id="")
        now = dt.datetime.now(dt.UTC)
        with pytest.raises(ConfigError, match="end_at is not after start_at and now"):
            oq.schedule(add_numbers, interval=60, end_at=now - dt.timedelta(hours=1))
        with pytest.raises(ConfigError, match="end_at is not after start_at and now"):
            oq.schedule(add_numbers, interval=60, start_at=now + dt.timedelta(hours=2),
                        end_at=now + dt.timedelta(hours=1))
        with pytest.raises(ConfigError, match="timezone applies to cron schedules only"):
            oq.schedule(add_numbers, interval=60, timezone="Europe/Paris")
        assert oq.list_tasks() == [] and oq.list_schedules() == []
        # 0 is no limit for ttl as it is for result_ttl and timeout, not "expired at once".
        assert oq.get_task(oq.enqueue(add_numbers, 1, 2, ttl=0)).expires_at is None
        with pytest.raises(ConfigError, match="a task_id or a schedule_id, not both"):
            oq.get_result("a-task", schedule_id="a-schedule")
        with pytest.raises(ConfigError, match="unknown kind of schedule results"):
            oq.get_result(schedule_id="a-schedule", kind="first")
        with pytest.raises(ConfigError, match="cron"):
            oq.schedule(add_numbers, cron_expression="every tuesday")
        with pytest.raises(ConfigError, match="interval"):
            oq.schedule(add_numbers, interval=0)
        with pytest.raises(ConfigError, match="not callable"):
            oq.enqueue("add_numbers")
        with pytest.raises(ConfigError, match="callback is not callable; field 'callback'"):
            oq.enqueue(add_numbers, 1, 2, callback="notify")
    # Queue names as one string: separated by commas, as OMNIQ_QUEUES and --queues take them.
    with OmniQ(project_name="p", backend_type="memory", queues="high, low") as oq:
        assert oq.task_queue.queues == ["high", "low", "default"]
    with pytest.MonkeyPatch.context() as env:  # OMNIQ_QUEUES, read as every setting is
        env.setenv("OMNIQ_QUEUES", "zz,default")
        assert OmniQ(project_name="p", backend_type="memory").task_queue.queues == \
            ["zz", "default"]
        with pytest.raises(ConfigError, match="unknown option"):
            from omniq.queue import MemoryTaskQueue

            MemoryTaskQueue.from_dict({"queuez": ["a"]})


@pytest.mark.parametrize(("expression", "problem"), [
    ("61 * * * *", "its minute field '61' is not valid (values 0-59)"),
    ("0 9 * * mon-fry", "its day-of-week field 'mon-fry' is not valid"),
    ("*/0 * * * *", "its minute field '*/0' is not valid"),
    ("0 9 * *", "4 fields instead of five"),
    ("0 9 * * * 30", "6 fields instead of five"),  # croniter would read 30 as seconds
    ("@reboot", "unknown @ name"),
    ("0 0 31 4 *", "no date matches it, so it would never fire"),  # April 31st
    (9, "expected a string"),
])
def test_a_bad_cron_expression_is_refused_naming_what_is_wrong(expression: object,
                                                               problem: str) -> None:
    with OmniQ(project_name="p", backend_type="memory") as oq:
        with pytest.raises(ConfigError) as info:
            oq.schedule(add_numbers, 1, 2, cron_expression=expression)
        assert str(info.value).startswith(f"invalid cron expression: {problem}")
        assert info.value.field == "cron_expression"
        assert "e.g. '0 9 * * 1-5'" in str(info.value)
        assert oq.list_schedules() == []


def test_the_cron_forms_croniter_documents_are_accepted() -> None:
    with OmniQ(project_name="p", backend_type="memory") as oq:
        for expression in ("@daily", "0 9 * * MON-FRI", "0 0 L * *", "0 0 * * 5#3", "0 9 * * 7"):
            schedule_id = oq.schedule(add_numbers, 1, 2, cron_expression=expression)
            assert oq.get_schedule(schedule_id).next_run_at is not None


def _login(user: str, password: str) -> str:
    return user


def test_arguments_that_do_not_fit_the_function_are_refused_at_enqueue() -> None:
    with OmniQ(project_name="p", backend_type="memory") as oq:
        with pytest.raises(ConfigError) as info:
            oq.enqueue(_login, func_args={"user": "ann", "pasword": "s3cret"})
        message = str(info.value)
        assert "_login()" in message and "password" in message  # the signature
        assert "pasword=..." in message and "s3cret" not in message  # the shape, no value
        assert info.value.field == "func_args"
        with pytest.raises(ConfigError, match="too many positional") as info:
            oq.enqueue(add_numbers, 1, 2, 3)
        assert info.value.field == "args"
        with pytest.raises(ConfigError, match="callback_args"):
            oq.enqueue(add_numbers, 1, 2, callback=_login, callback_args={"nope": 1})
        with pytest.raises(ConfigError, match="cannot take"):
            oq.schedule(_login, interval=60, func_args={"user": "ann"})
        with pytest.raises(ConfigError, match="cannot take"):
            oq.enqueue_many(add_numbers, [{"x": 1, "y": 2}, {"x": 1, "z": 2}])
        assert oq.list_tasks() == [] and oq.list_schedules() == []
        # What fits is taken, keyword or positional, and a signature-less builtin is not checked.
        oq.enqueue(_login, "ann", "x")
        oq.enqueue(_login, func_args={"user": "ann"}, func_kwargs={"password": "x"})
        oq.enqueue(add_numbers, 1, 2, callback=_login, callback_args={"password": "x"})
        oq.enqueue(max, 1, 2)
        oq.enqueue(_with_session, "ann")  # the decorator supplies `session`
        assert len(oq.list_tasks()) == 5


def _supplies_session(func):  # type: ignore[no-untyped-def]
    @functools.wraps(func)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        return func("session", *args, **kwargs)
    return wrapper


@_supplies_session
def _with_session(session: str, user: str) -> str:
    return user


@pytest.mark.anyio
@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_get_result_of_an_expired_result_says_so_at_once(backend: str, tmp_path) -> None:
    settings = {"base_dir": str(tmp_path)} if backend == "sqlite" else {}
    async with AsyncOmniQ(project_name="p", backend_type=backend, **settings) as oq:
        await oq.start_worker(worker_type="async")
        task_id = await oq.enqueue(add_numbers, 1, 2, result_ttl=0.2)
        assert await oq.get_result(task_id, timeout=10) == 3
        await oq.stop_worker()
        await anyio.sleep(0.3)
        with anyio.fail_after(5), pytest.raises(TaskNotFoundError, match="has expired"):
            await oq.get_result(task_id)  # no timeout: it must not wait for ever
