"""What a new user meets first: the seeds' imports and defaults work, and wrong input gets an
error that names the field, where it came from, what was expected and the closest valid name."""

from __future__ import annotations

import importlib
import logging
import os
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from omniq import AsyncOmniQ, ConfigError, OmniQ, PluginNotFoundError, plugins
from omniq.models import EventType
from omniq.testing._support import pid_alive
from seed_tasks import add_numbers, record_pid_and_sleep, sync_task

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).parent


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIQ_")}
    return {**env, "PYTHONPATH": str(TESTS), "OMNIQ_SECRET_KEY": "omniq-test-secret", **extra}


# -- seeds' forms and defaults ---------------------------------------------------------------------
def test_worker_given_only_a_queue_keeps_results_in_the_queues_engine(tmp_path: Path) -> None:
    # Seed 001 "Handling Both Sync and Async Tasks", on SQLite.
    from omniq.queue import SQLiteTaskQueue
    from omniq.workers import AsyncWorker

    queue = SQLiteTaskQueue(project_name="my_project", base_dir=str(tmp_path))
    worker = AsyncWorker(queue=queue, max_workers=10)
    worker.start()
    try:
        task_id = queue.enqueue(sync_task, func_args=dict(x=5, y=10))
        assert worker.get_result(task_id, timeout=20) == 50
    finally:
        worker.stop()
        queue.close()


def test_client_given_only_a_queue_keeps_results_in_the_queues_engine(tmp_path: Path) -> None:
    from omniq.queue import SQLiteTaskQueue

    queue = SQLiteTaskQueue(project_name="p", base_dir=str(tmp_path))
    with OmniQ(project_name="p", task_queue=queue) as oq:
        assert "SQLite" in type(oq.result_store).__name__


def test_backends_has_a_submodule_per_installed_type() -> None:
    # Seed 004: from omniq.backends.sqlite import SQLiteBackend
    from omniq.backends.sqlite import SQLiteBackend, SQLiteTaskQueueConfig

    assert SQLiteBackend.__name__ == "SQLiteBackend"
    assert SQLiteTaskQueueConfig.__name__ == "SQLiteTaskQueueConfig"
    memory = importlib.import_module("omniq.backends.memory")
    assert {"MemoryBackend", "MemoryTaskQueue", "MemoryResultStoreConfig"} <= set(memory.__all__)
    assert importlib.import_module("omniq.backends.postgresql").PostgresBackend.__name__ \
        == "PostgresBackend"  # an alias names the same type
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("omniq.backends.kafkaesque")


@pytest.mark.usefixtures("without_omniq_nats")
def test_a_missing_plugin_of_ours_is_named_on_import_from_backends() -> None:
    with pytest.raises(PluginNotFoundError, match=r"pip install -e \./omniq-nats"):
        importlib.import_module("omniq.backends.nats")


def test_every_engine_has_the_same_config_struct_names() -> None:
    import omniq.models

    suffixes = ("TaskQueueConfig", "ResultStoreConfig", "EventStoreConfig", "BackendConfig")
    for prefix in ("Memory", "SQLite", "Postgres", "Redis"):
        for suffix in suffixes:
            assert getattr(omniq.models, prefix + suffix).__name__ == prefix + suffix


# -- a third-party type without a bundle class -----------------------------------------------------
ACME_PLUGIN = """
    from omniq.plugins import hookimpl

    @hookimpl
    def omniq_register_task_queues(register):
        register("acme", "{pkg}.engine:AsyncAcmeTaskQueue")

    @hookimpl
    def omniq_register_result_stores(register):
        register("acme", "{pkg}.engine:AsyncAcmeResultStore")

    @hookimpl
    def omniq_register_event_stores(register):
        register("acme", "{pkg}.engine:AsyncAcmeEventStore")
"""

ACME_ENGINE = """
    from omniq.queue.memory import AsyncMemoryTaskQueue
    from omniq.storage.memory import AsyncMemoryEventStore, AsyncMemoryResultStore

    class AsyncAcmeTaskQueue(AsyncMemoryTaskQueue):
        pass

    class AsyncAcmeResultStore(AsyncMemoryResultStore):
        pass

    class AsyncAcmeEventStore(AsyncMemoryEventStore):
        pass
"""


@pytest.fixture
def acme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A distribution ``omniq-acme`` on sys.path whose plugin registers three ``acme`` types."""
    pkg = f"omniq_acme_{os.getpid()}"
    (tmp_path / pkg).mkdir()
    (tmp_path / pkg / "__init__.py").write_text("")
    for name, code in {"plugin.py": ACME_PLUGIN, "engine.py": ACME_ENGINE}.items():
        (tmp_path / pkg / name).write_text(textwrap.dedent(code.format(pkg=pkg)))
    info = tmp_path / "omniq_acme-1.0.dist-info"
    info.mkdir()
    info.joinpath("METADATA").write_text("Metadata-Version: 2.1\nName: omniq-acme\nVersion: 1.0\n")
    info.joinpath("entry_points.txt").write_text(f"[omniq]\nacme = {pkg}.plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    plugins.reset()
    yield pkg
    plugins.reset()
    for name in [m for m in sys.modules if m.startswith(pkg) or m == "omniq.backends.acme"]:
        del sys.modules[name]


def test_backend_type_without_a_bundle_means_every_component_of_that_type(acme: str) -> None:
    with OmniQ(project_name="p", backend_type="acme") as oq:
        assert type(oq.task_queue).__name__ == "AsyncAcmeTaskQueue"
        assert type(oq.result_store).__name__ == "AsyncAcmeResultStore"
    from omniq.backends.acme import AsyncAcmeResultStore  # type: ignore[import-not-found]

    assert AsyncAcmeResultStore.__module__ == f"{acme}.engine"


# -- wrong input ----------------------------------------------------------------------------------
def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "omniq.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_unknown_key_in_a_yaml_config_block_names_file_line_and_closest_name(
        tmp_path: Path) -> None:
    path = _write(tmp_path, f"""\
        project_name: p
        task_queue:
          type: sqlite
          config:
            base_dir: {tmp_path}
            busy_timout: 3
        """)
    with pytest.raises(ConfigError) as info:
        OmniQ.from_config_file(path)
    message = str(info.value)
    assert "'busy_timout'" in message and "did you mean 'busy_timeout'?" in message
    assert f"{path}, line 6" in message
    assert info.value.field == "task_queue.config.busy_timout"


def test_unknown_top_level_key_suggests_the_closest(tmp_path: Path) -> None:
    path = _write(tmp_path, "project_name: p\nqueus: [a]\n")
    with pytest.raises(ConfigError, match=r"did you mean 'queues'\?") as info:
        OmniQ.from_config_file(path)
    assert f"{path}, line 2" in str(info.value)


def test_unknown_or_ill_typed_worker_option_in_yaml(tmp_path: Path) -> None:
    path = _write(tmp_path, "project_name: p\nworker:\n  type: async\n  config:\n"
                            "    max_worker: 3\n")
    with pytest.raises(ConfigError) as info:
        OmniQ.from_config_file(path)
    assert "did you mean 'max_workers'?" in str(info.value)
    assert f"{path}, line 5" in str(info.value)
    path = _write(tmp_path, "project_name: p\nworker:\n  config:\n    max_workers: lots\n")
    with pytest.raises(ConfigError) as info:
        OmniQ.from_config_file(path)
    message = str(info.value)
    assert "'lots'" in message and "an integer" in message and f"{path}, line 4" in message


def test_unknown_worker_option_to_start_worker() -> None:
    with OmniQ(project_name="p", backend_type="memory") as oq, \
            pytest.raises(ConfigError, match=r"did you mean 'max_workers'\?"):
        oq.start_worker(max_worker=2)


def test_misspelled_or_malformed_enqueue_options() -> None:
    with OmniQ(project_name="p", backend_type="memory") as oq:
        with pytest.raises(ConfigError, match=r"'retires'.*did you mean 'max_retries'\?"):
            oq.enqueue(add_numbers, 1, 2, retires=3)
        with pytest.raises(ConfigError, match="func_args must be a mapping") as info:
            oq.enqueue(add_numbers, func_args=(2, 3))
        assert "enqueue(func, 2, 3)" in str(info.value)
        with pytest.raises(ConfigError, match=r"'retires'.*max_retries"):
            oq.enqueue_many(add_numbers, [(1, 2)], retires=3)
        assert oq.list_tasks() == []


@pytest.mark.parametrize(("typo", "meant"), [("reddis", "redis"), ("sqlit", "sqlite")])
def test_misspelled_type_name_suggests_the_installed_one(typo: str, meant: str) -> None:
    with pytest.raises(PluginNotFoundError, match=f"did you mean '{meant}'"):
        OmniQ(project_name="p", backend_type=typo)


def test_schedule_with_both_interval_and_cron_is_refused() -> None:
    with OmniQ(project_name="p", backend_type="memory") as oq:
        with pytest.raises(ConfigError, match="both cron_expression and interval"):
            oq.schedule(add_numbers, interval=60, cron_expression="0 9 * * *")
        with pytest.raises(ConfigError, match=r"did you mean 'interval'\?"):
            oq.schedule(add_numbers, intervall=60)
        assert oq.list_schedules() == []


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port where something listens and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def test_postgres_url_on_a_port_that_is_not_postgres_says_so(silent_port: int) -> None:
    from omniq import BackendUnavailableError

    url = f"postgresql://postgres@127.0.0.1:{silent_port}/test"
    queue = {"url": url, "config": {"connect_timeout": 1}}
    with pytest.raises(BackendUnavailableError) as info, \
            OmniQ(project_name="p", task_queue=queue) as oq:
        oq.enqueue(add_numbers, 1, 2)
    message = str(info.value)
    assert f"127.0.0.1:{silent_port}" in message and "1 s" in message
    assert "no PostgreSQL server answered" in message


def test_install_hints_never_name_the_unrelated_omniq_distribution() -> None:
    # `omniq[...]` on the public index is another project's; ours are omniq-redis & co.
    pattern = re.compile(r"pip install[^\n]*omniq\[")
    offenders = []
    for path in REPO.rglob("*"):
        if path.suffix not in (".py", ".md", ".qmd", ".txt", ".toml", ".yaml", ".yml") \
                or any(part.startswith(".") for part in path.relative_to(REPO).parts) \
                or path == Path(__file__):
            continue
        if pattern.search(path.read_text(encoding="utf-8", errors="replace")):
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


# -- defaults that surprised -----------------------------------------------------------------------
def test_from_config_file_expands_env_vars_as_the_cli_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIQ_TEST_PROJECT", "from_env")
    path = _write(tmp_path, "project_name: ${OMNIQ_TEST_PROJECT}\ntask_queue: memory\n")
    with OmniQ.from_config_file(path) as oq:
        assert oq.project_name == "from_env"


def test_client_logs_the_backend_it_fell_back_to(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMNIQ_TASK_QUEUE_TYPE", raising=False)
    monkeypatch.delenv("OMNIQ_TASK_QUEUE_URL", raising=False)
    with caplog.at_level(logging.INFO, logger="omniq"):
        AsyncOmniQ(project_name="p")
    assert any(r.name == "omniq" and r.levelno == logging.INFO and "'memory' backend" in
               r.getMessage() for r in caplog.records)


def test_the_library_leaves_the_applications_logger_levels_alone() -> None:
    root = logging.getLogger("omniq")
    before = root.level
    root.setLevel(logging.DEBUG)
    try:
        AsyncOmniQ(project_name="p", backend_type="memory")
        assert root.level == logging.DEBUG
    finally:
        root.setLevel(before)


# -- the command line ------------------------------------------------------------------------------
def _omniq(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "omniq", *args], capture_output=True,
                          text=True, cwd=cwd, env=_env(**env), timeout=60)


_LOGS_A_WARNING = """
import logging, sys
logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
from omniq import OmniQ
from omniq.queue import MemoryTaskQueue
if sys.argv[1:] == ["app-says-info"]:  # the program's own setting, after its imports
    logging.getLogger("omniq").setLevel(logging.INFO)
OmniQ(project_name="other", task_queue=MemoryTaskQueue())  # warns: the queue's project differs
print("built")
"""


@pytest.mark.parametrize(("variables", "argument", "logged"), [
    ({}, "", True),
    ({"OMNIQ_DISABLE_LOGGING": "1"}, "", False),
    ({"OMNIQ_LOG_LEVEL": "ERROR"}, "", False),
    ({"OMNIQ_COMPONENT_LOG_LEVELS": '{"omniq": "DISABLED"}'}, "", False),
    ({"OMNIQ_LOG_LEVEL": "ERROR"}, "app-says-info", True),
])
def test_logging_variables_set_the_library_levels_and_the_program_has_the_last_word(
        tmp_path: Path, variables: dict[str, str], argument: str, logged: bool) -> None:
    script = tmp_path / "logs.py"
    script.write_text(_LOGS_A_WARNING)
    result = subprocess.run([sys.executable, str(script), *([argument] if argument else [])],
                            capture_output=True, text=True, env=_env(**variables), timeout=60)
    assert result.returncode == 0 and result.stdout == "built\n", result.stderr
    assert ("WARNING omniq: AsyncMemoryResultStore uses project" in result.stderr) is logged


@pytest.mark.parametrize(("variable", "value"), [("OMNIQ_LOG_LEVEL", "LOUD"),
                                                 ("OMNIQ_COMPONENT_LOG_LEVELS", "not json")])
def test_an_invalid_logging_variable_is_named_when_a_client_is_built(
        tmp_path: Path, variable: str, value: str) -> None:
    script = tmp_path / "logs.py"
    script.write_text(_LOGS_A_WARNING)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            env=_env(**{variable: value}), timeout=60)
    assert result.returncode == 1 and result.stdout == ""
    assert f"ConfigError: invalid value for environment variable {variable}" in result.stderr


def test_worker_takes_log_level_after_the_command_as_celery_does(tmp_path: Path) -> None:
    result = _omniq("worker", "--url", f"sqlite:///{tmp_path / 'w.db'}", "--project", "w",
                    "--log-level", "LOUD", cwd=tmp_path)
    assert result.returncode == 2 and "Invalid value for --log-level" in result.stderr
    assert "expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL, DISABLED" in result.stderr


def test_worker_with_an_app_module_that_does_not_exist(tmp_path: Path) -> None:
    result = _omniq("worker", "--app", "nosuchmod:oq", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "cannot import module 'nosuchmod'" in result.stderr and "--app" in result.stderr


def test_worker_refuses_the_in_process_memory_backend(tmp_path: Path) -> None:
    result = _omniq("worker", cwd=tmp_path)
    assert result.returncode == 2
    assert "memory" in result.stderr and "--url" in result.stderr
    assert "OMNIQ_TASK_QUEUE_TYPE" in result.stderr and "Traceback" not in result.stderr
    # The file backend on fsspec's memory filesystem is this process's alone too.
    result = _omniq("worker", "--url", "memory://somewhere", cwd=tmp_path)
    assert result.returncode == 2 and "a memory:// URL" in result.stderr


def test_cli_worker_serves_default_last_and_honours_log_level(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tasks.db'}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "omniq", "--log-level", "INFO", "worker", "--url", url,
         "--project", "cli", "--queues", "high,low"],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert "'high', 'low', 'default'" in banner
        with OmniQ(project_name="cli", task_queue=url) as oq:
            task_id = oq.enqueue(add_numbers, 2, 3)  # no queue_name: the default queue
            assert oq.get_result(task_id, timeout=30) == 5
    finally:
        proc.terminate()
        started = time.monotonic()
        proc.wait(timeout=30)
    assert time.monotonic() - started < 30
    assert proc.stderr is not None
    assert re.search(r" INFO omniq", proc.stderr.read())  # --log-level was not reset


def test_a_process_pool_started_outside_the_main_guard_fails_at_start_saying_so(
        tmp_path: Path) -> None:
    # Each spawned child imports the main module again: unguarded, it would enqueue once more
    # and start a worker of its own in every child. The child is refused, the start fails.
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent(f"""
        from omniq import OmniQ
        from seed_tasks import add_numbers

        with OmniQ(project_name="unguarded", task_queue="sqlite:///{tmp_path / 'u.db'}") as oq:
            oq.enqueue(add_numbers, 1, 2)
            oq.start_worker(worker_type="process_pool", max_workers=2)
    """))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            env=_env(), cwd=tmp_path, timeout=60)
    assert result.returncode == 1
    assert "ConfigError: OmniQ was used by code that runs again in every new process" \
        in result.stderr  # the child's own traceback
    assert "ConfigError: the process_pool worker's first process exited as it started" \
        in result.stderr and 'if __name__ == "__main__":' in result.stderr
    with OmniQ(project_name="unguarded", task_queue=f"sqlite:///{tmp_path / 'u.db'}") as oq:
        assert [task.status for task in oq.list_tasks()] == ["pending"]  # enqueued once


def test_a_misspelt_environment_variable_is_named_with_the_one_meant(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from omniq.config import _loader

    monkeypatch.setattr(_loader, "_warned_variables", set())
    monkeypatch.setenv("OMNIQ_TASK_QUEUE_TPYE", "sqlite")
    monkeypatch.setenv("OMNIQ_DEPLOYMENT_COLOUR", "blue")  # far from every name: not ours
    with pytest.warns(UserWarning) as warned:
        OmniQ(project_name="p")
    assert [str(w.message) for w in warned] == [
        "OMNIQ_TASK_QUEUE_TPYE is not a variable OmniQ reads, so it changes nothing; the "
        "closest one is OMNIQ_TASK_QUEUE_TYPE (every variable: "
        "docs/user_guide/configuration_reference.qmd)"]
    assert warned[0].filename == __file__  # pointed at the caller, not at OmniQ's code
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        AsyncOmniQ(project_name="p")  # said once per process


def test_the_omniq_command_logs_a_misspelt_environment_variable(tmp_path: Path) -> None:
    result = _omniq("status", "--url", f"sqlite:///{tmp_path / 's.db'}", "--project", "s",
                    cwd=tmp_path, OMNIQ_LOGLEVEL="DEBUG")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "OMNIQ_LOGLEVEL" in line]
    assert len(lines) == 1 and " WARNING omniq.cli: OMNIQ_LOGLEVEL is not a variable OmniQ " \
        "reads" in lines[0] and "closest one is OMNIQ_LOG_LEVEL" in lines[0], result.stderr


_FORKED = """
import os, sys
from omniq import OmniQ
from seed_tasks import add_numbers

oq = OmniQ(project_name="forked", task_queue=sys.argv[1])
oq.enqueue(add_numbers, 1, 2)
child = os.fork()
if child == 0:
    try:
        oq.enqueue(add_numbers, 3, 4)
    except Exception as exc:
        print(f"child: {type(exc).__name__}: {exc}", flush=True)
    oq.close()  # must leave the parent's connections alone
    os._exit(0)
os.waitpid(child, 0)
oq.enqueue(add_numbers, 5, 6)
print("parent:", len(oq.list_tasks()), flush=True)
oq.close()
"""


def _url_of(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of a server engine's test instance, or of a SQLite file in ``tmp_path``."""
    if engine == "sqlite":
        return f"sqlite:///{tmp_path / 'tasks.db'}"
    return str(request.getfixturevalue({"redis": "redis_url", "postgres": "postgres_dsn",
                                        "nats": "nats_url"}[engine]))


@pytest.mark.parametrize("engine", ["sqlite", "redis", "postgres", "nats"])
def test_a_client_connected_before_a_fork_is_refused_in_the_child_and_spares_the_parent(
        engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = _url_of(engine, tmp_path, request)
    script = tmp_path / "forked.py"
    script.write_text(_FORKED.replace('"forked"', repr(request.getfixturevalue("project_name"))))
    result = subprocess.run([sys.executable, str(script), url], capture_output=True, text=True,
                            env=_env(), cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    child, parent = result.stdout.splitlines()
    assert child.startswith("child: ConfigError: this Async") and "connected before the " \
        "process forked" in child and "post_fork" in child
    assert parent == "parent: 2"  # the child's close() cut none of the parent's connections


_ENDS_WITHOUT_STOP = """
import sys, time
from omniq import OmniQ
from omniq.queue import SQLiteTaskQueue
from omniq.storage import SQLiteEventStorage
from omniq.workers import ThreadPoolWorker, ProcessPoolWorker
from seed_tasks import slow_square

if __name__ == "__main__":
    kind, base = sys.argv[1], sys.argv[2]
    if kind == "client":  # seed form: a module-level client, never stopped or closed
        oq = OmniQ(project_name="ends", backend_type="sqlite", base_dir=base,
                   event_store="sqlite")
        oq.start_worker(worker_type="thread_pool", max_workers=2)
        queue = oq
    else:  # seed 001, "Working with Multiple Queues": a worker started and never stopped
        queue = SQLiteTaskQueue(project_name="ends", base_dir=base)
        events = SQLiteEventStorage(project_name="ends", base_dir=base)
        worker = {"thread_pool": ThreadPoolWorker, "process_pool": ProcessPoolWorker}[kind](
            queue=queue, event_store=events, max_workers=2)
        worker.start()
    for n in range(3):
        queue.enqueue(slow_square, n)
    time.sleep(0.3)
"""


@pytest.mark.parametrize("kind", ["client", "thread_pool", "process_pool"])
def test_a_program_that_ends_without_stopping_its_worker_stops_it_gracefully(
        kind: str, tmp_path: Path) -> None:
    # The worker's threads are daemons: without the stop at exit its running tasks stayed
    # "running" until their lease ran out, then ran again, and its last events were lost.
    script = tmp_path / "ends.py"
    script.write_text(_ENDS_WITHOUT_STOP)
    result = subprocess.run([sys.executable, str(script), kind, str(tmp_path)],
                            capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=90)
    assert result.returncode == 0, result.stderr
    with OmniQ(project_name="ends", backend_type="sqlite", base_dir=str(tmp_path),
               event_store="sqlite") as oq:
        tasks = oq.list_tasks()
        statuses = sorted(task.status.value for task in tasks)
        assert statuses == ["completed", "completed", "pending"], statuses
        for task in tasks:
            types = [event.type for event in oq.get_events(task.id)]
            if task.status.value == "completed":
                assert task.attempts == 1 and types[-1] == "COMPLETE", types
                assert oq.get_result(task.id, timeout=1) in (0, 1, 4)


def test_a_process_pool_child_ends_when_its_worker_is_killed(tmp_path: Path) -> None:
    # SIGKILL gives the worker no chance to stop its pool: the child ran its task on, beside
    # the run that replaced it after the lease, and never exited.
    database = f"sqlite:///{tmp_path / 'orphans.db'}"
    worker = subprocess.Popen(
        [sys.executable, "-m", "omniq", "worker", "--url", database, "--project", "orphans",
         "--type", "process_pool", "--concurrency", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=tmp_path)
    pid_file = tmp_path / "child.pid"
    try:
        with OmniQ(project_name="orphans", task_queue=database) as oq:
            oq.enqueue(record_pid_and_sleep, str(pid_file), 60)
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline and worker.poll() is None, worker.stderr
            time.sleep(0.1)
        child = int(pid_file.read_text())
    finally:
        worker.kill()
        worker.communicate(timeout=30)
    deadline = time.monotonic() + 10
    while pid_alive(child):
        assert time.monotonic() < deadline, f"child {child} still runs its task"
        time.sleep(0.1)


_ENDS_WITH_A_LONG_PROCESS_TASK = """
import sys, time
from omniq.queue import SQLiteTaskQueue
from omniq.workers import ProcessPoolWorker
from seed_tasks import record_pid_and_sleep

if __name__ == "__main__":
    queue = SQLiteTaskQueue(project_name="long", base_dir=sys.argv[1])
    ProcessPoolWorker(queue=queue, max_workers=1, grace_period=1).start()
    queue.enqueue(record_pid_and_sleep, sys.argv[1] + "/child.pid", 60)
    time.sleep(2)
"""


def test_a_process_pool_worker_left_running_keeps_the_exit_to_its_grace_period(
        tmp_path: Path) -> None:
    # concurrent.futures waits for its pools' jobs before any atexit handler: the exit took
    # as long as the task (60 s here), whatever the grace period.
    script = tmp_path / "long.py"
    script.write_text(_ENDS_WITH_A_LONG_PROCESS_TASK)
    started = time.monotonic()
    result = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True,
                            text=True, env=_env(), cwd=tmp_path, timeout=90)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 20
    with OmniQ(project_name="long", backend_type="sqlite", base_dir=str(tmp_path)) as oq:
        [task] = oq.list_tasks()
        assert task.status.value == "pending"  # put back, to run again
    assert not pid_alive(int((tmp_path / "child.pid").read_text()))


_NEVER_CLOSED = """
import asyncio, sys
from omniq import AsyncOmniQ, OmniQ

url, blocking = sys.argv[1], sys.argv[2] == "blocking"
if blocking:  # a module-level client, as in many scripts: never closed
    oq = OmniQ(project_name=PROJECT, task_queue=url, event_store=url)
    print(oq.enqueue(print, "hi"))
else:
    oq = AsyncOmniQ(project_name=PROJECT, task_queue=url, event_store=url)
    print(asyncio.run(oq.enqueue(print, "hi")))
"""


@pytest.mark.parametrize("engine", ["sqlite", "redis", "postgres", "nats"])
@pytest.mark.parametrize("client", ["blocking", "async"])
def test_events_of_a_client_never_closed_are_written_when_the_program_ends(
        engine: str, client: str, tmp_path: Path, project_name: str,
        request: pytest.FixtureRequest) -> None:
    url = _url_of(engine, tmp_path, request)
    script = tmp_path / "never_closed.py"
    script.write_text(_NEVER_CLOSED.replace("PROJECT", repr(project_name)))
    result = subprocess.run([sys.executable, "-W", "error::ResourceWarning", str(script), url,
                             client], capture_output=True, text=True, env=_env(), cwd=tmp_path,
                            timeout=60)
    assert result.returncode == 0 and "could not write" not in result.stderr, result.stderr
    task_id = result.stdout.strip()
    with OmniQ(project_name=project_name, task_queue=url, event_store=url) as oq:
        assert [e.type for e in oq.get_events(task_id)] == [EventType.ENQUEUED]


@pytest.mark.parametrize("engine", ["sqlite", "redis", "postgres", "nats"])
def test_a_store_named_by_the_queues_engine_uses_the_queues_connection(
        engine: str, tmp_path: Path, request: pytest.FixtureRequest,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # result_store: redis beside task_queue: redis://host/5 (and OMNIQ_EVENT_STORAGE_TYPE
    # beside omniq worker --url) went to the engine's default location: another database.
    from omniq._component import location_of

    url = _url_of(engine, tmp_path, request)
    if engine == "redis":
        url = url.rsplit("/", 1)[0] + "/5"
    monkeypatch.setenv("OMNIQ_EVENT_STORAGE_TYPE", engine)
    for oq in (AsyncOmniQ(project_name="p", task_queue=url, result_store=engine),
               AsyncOmniQ.from_config({"project_name": "p", "task_queue": {"url": url},
                                       "result_store": engine})):
        where = location_of(oq.task_queue)
        assert location_of(oq.result_store) == where
        assert oq.event_store is not None and location_of(oq.event_store) == where
