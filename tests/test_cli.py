"""The ``omniq`` command: plugins, demo, a worker that stops gracefully on SIGTERM, exit codes,
``events --follow``, progress bars over thousands of dead letters, and commands from plugins
(the inspection commands on every backend are in ``test_cli_backends.py``)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner, Result
from local_server import free_port
from omniq import OmniQ
from omniq.cli import cli
from omniq.models import TaskStatus, WorkerInfo
from omniq.testing import _tasks

TESTS = Path(__file__).parent


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(TESTS)}


def add(x: int, y: int) -> int:
    return x + y


def test_plugins_lists_core_types_with_their_distribution() -> None:
    out = subprocess.run([sys.executable, "-m", "omniq", "plugins"], capture_output=True,
                         text=True, check=True).stdout
    assert any(line.split()[:3] == ["task_queue", "memory", "omniq"] for line in out.splitlines())
    assert any(line.split()[:2] == ["worker", "process_pool"] for line in out.splitlines())


def test_demo_runs_and_prints_results(tmp_path) -> None:
    out = subprocess.run([sys.executable, "-m", "omniq", "demo", "--backend", "memory"],
                         capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert "-> 44" in out and "-> 16" in out
    assert "raised ValueError: this task fails on purpose" in out


def test_worker_stops_gracefully_on_sigterm(tmp_path) -> None:
    app = tmp_path / "cli_app.py"
    app.write_text("from omniq import OmniQ\noq = OmniQ(project_name='cli', "
                   "backend_type='sqlite', base_dir='.', queues=['high', 'low'])\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "omniq", "worker", "--app", "cli_app:oq", "--queues", "high,low",
         "--type", "thread_pool", "--concurrency", "3"],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert "thread_pool, 3 slots" in banner and "'high', 'low'" in banner
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert proc.wait(timeout=20) == 0
        assert time.monotonic() - started < 10
        assert "stopping gracefully" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_second_signal_stops_the_worker_at_once(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/tasks.db"
    with OmniQ(project_name="again", task_queue=url) as oq:
        task_id = oq.enqueue(_tasks.wait_for_cancel, str(tmp_path / "task"))
    # A process pool whose child runs a task that ignores cancellation past a long grace.
    proc = subprocess.Popen(
        [sys.executable, "-m", "omniq", "worker", "--url", url, "--project", "again", "--type",
         "process_pool", "--concurrency", "1", "--grace", "600"],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "task.pid").exists():
            assert time.monotonic() < deadline and proc.poll() is None, "the task never started"
            time.sleep(0.05)
        child = int((tmp_path / "task.pid").read_text())
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert proc.poll() is None  # the first: waiting for the task, up to --grace
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 1
        stderr = proc.stderr.read()
        assert "a second Ctrl-C or SIGTERM stops at once" in stderr
        assert "second signal: stopping now" in stderr
        deadline = time.monotonic() + 10
        while Path(f"/proc/{child}").exists() and "zombie" not in \
                Path(f"/proc/{child}/status").read_text():
            assert time.monotonic() < deadline, "the pool's child runs on"
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
    with OmniQ(project_name="again", task_queue=url) as oq:  # left to its lease, not lost
        assert oq.get_task(task_id).status == TaskStatus.RUNNING


def test_worker_script_finds_task_modules_in_its_current_directory(tmp_path, monkeypatch) -> None:
    """`omniq worker --config` (the console script, whose own folder is first on its import
    path, unlike `python -m`) imports `tasks.py` from the folder it was started in."""
    (tmp_path / "cwd_tasks.py").write_text("def add(x, y):\n    return x + y\n")
    (tmp_path / "omniq.yaml").write_text(
        "project_name: cwd\ntask_queue: {type: sqlite, url: 'sqlite:///cwd.db'}\n")
    script = Path(sys.executable).with_name("omniq")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.Popen([str(script), "worker", "--config", "omniq.yaml"], cwd=tmp_path,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        monkeypatch.chdir(tmp_path)  # the config's relative database path, as the worker reads it
        monkeypatch.syspath_prepend(str(tmp_path))
        from cwd_tasks import add as cwd_add  # type: ignore[import-not-found]

        with OmniQ.from_config_file(tmp_path / "omniq.yaml") as oq:
            assert oq.get_result(oq.enqueue(cwd_add, 2, 3), timeout=30) == 5
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_worker_with_a_bad_app_reports_a_clear_error(tmp_path) -> None:
    result = subprocess.run([sys.executable, "-m", "omniq", "worker", "--app", "nocolon"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert "module:attribute" in result.stderr


def test_an_app_that_is_not_a_client_and_two_backends_are_usage_errors(tmp_path) -> None:
    (tmp_path / "notoq.py").write_text("x = 5\ndef add(a, b):\n    return a + b\n")
    for argv, said in [
            (["worker", "--app", "notoq:x"], "names an object of type int, not an OmniQ client"),
            (["status", "--app", "os:path"], "names an object of type module"),
            (["worker", "--app", "notoq:add"], "names add(a, b), which needs arguments"),
            (["status", "--url", "sqlite:///a.db", "--backend-type", "redis"],
             "--url and --backend-type each choose the backend; give one"),
            (["worker", "--config", "omniq.yaml", "--url", "sqlite:///a.db"],
             "--config and --url each choose the backend"),
            (["status", "--app", "notoq:x", "--project", "other"],
             "--project cannot change the project of the --app client")]:
        result = subprocess.run([sys.executable, "-m", "omniq", *argv], capture_output=True,
                                text=True, cwd=tmp_path, env=_env(), timeout=60)
        assert result.returncode == 2, (argv, result.stderr)
        assert said in result.stderr and "Traceback" not in result.stderr, argv
    assert not (tmp_path / "a.db").exists()  # refused before anything was opened


# -- exit codes ------------------------------------------------------------------------------

def _invoke(*argv: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(argv), input=input)


def test_usage_errors_exit_2_with_what_was_expected(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/x.db"
    for argv in (["events", "--url", url], ["tasks", "list", "--url", url]):
        reversed_range = _invoke(*argv, "--since", "2h", "--until", "3h")
        assert reversed_range.exit_code == 2 and "is after --until" in reversed_range.stderr
    no_queue = _invoke("worker", "--url", url, "--queues", ",,")
    assert no_queue.exit_code == 2 and "',,' names no queue" in no_queue.stderr
    bad_time = _invoke("tasks", "list", "--url", url, "--since", "yesterday-ish")
    assert bad_time.exit_code == 2 and "15m, 2h, 7d" in bad_time.stderr
    assert _invoke("tasks", "list", "--url", url, "--status", "sleeping").exit_code == 2
    assert _invoke("status", "--no-such-option").exit_code == 2
    assert _invoke("no-such-command").exit_code == 2
    both = _invoke("status", "--app", "x:y", "--config", "omniq.yaml")
    assert both.exit_code == 2 and "not both" in both.stderr


def test_the_memory_backend_is_refused_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("OMNIQ_") and n != "OMNIQ_SECRET_KEY"]:
        monkeypatch.delenv(name)
    result = _invoke("status", "--backend-type", "memory")
    assert result.exit_code == 2
    assert "memory" in result.stderr and "--url" in result.stderr


def test_an_unreachable_backend_exits_3(tmp_path: Path) -> None:
    port = free_port()
    started = time.monotonic()
    result = _invoke("status", "--url", f"postgresql://postgres@127.0.0.1:{port}/test")
    assert result.exit_code == 3, (result.output, result.exception)
    assert "127.0.0.1" in result.stderr and time.monotonic() - started < 30



def test_not_found_exits_1(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/x.db"
    missing = _invoke("tasks", "show", "--url", url, "nope")
    assert missing.exit_code == 1 and "no task with id 'nope'" in missing.stderr
    assert _invoke("schedules", "pause", "--url", url, "nope").exit_code == 1


# -- workers in status -------------------------------------------------------------------------

def test_status_shows_a_worker_that_stopped_reporting_as_gone(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/x.db"
    silent = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)
    with OmniQ(project_name="p", task_queue=url) as oq:
        oq.task_queue.put_worker(WorkerInfo(
            id="box:77:dead", host="box", pid=77, worker_type="async", concurrency=10,
            queues=["default"], started_at=silent, last_heartbeat=silent))
    state = json.loads(_invoke("status", "--url", url, "--project", "p", "--json").stdout)
    [worker] = state["workers"]
    assert worker["id"] == "box:77:dead" and not worker["alive"]
    assert worker["heartbeat_age"] >= 120
    people = _invoke("status", "--url", url, "--project", "p").stdout
    assert "gone" in people and "2m0" in people


def test_status_of_an_empty_store_says_where_to_look(tmp_path: Path) -> None:
    typo = _invoke("status", "--url", f"sqlite:///{tmp_path}/typo.db", "--project", "shop")
    assert typo.exit_code == 0
    assert "Nothing is recorded for project 'shop'" in typo.stderr
    assert "--url" in typo.stderr and "--project" in typo.stderr
    url = f"sqlite:///{tmp_path}/x.db"
    with OmniQ(project_name="shop", task_queue=url) as oq:
        oq.enqueue(add, 1, 2)
    found = _invoke("status", "--url", url, "--project", "shop")
    assert found.exit_code == 0 and "Nothing is recorded" not in found.stderr


# -- progress bars for thousands ---------------------------------------------------------------

def test_requeue_and_purge_of_thousands_of_dead_letters(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/x.db"
    with OmniQ(project_name="p", task_queue=url) as oq:
        dead = [msgspec.structs.replace(oq.task_queue.build_task(add, i, i, queue_name=q),
                                        status=TaskStatus.FAILED)
                for q in ("a", "b") for i in range(1500)]
        oq.task_queue.add_tasks(dead)
    where = ["--url", url, "--project", "p"]
    requeued = _invoke("dlq", "requeue", *where, "--all", "--queue", "a")
    assert requeued.exit_code == 0 and "1500 dead letter(s) requeued" in requeued.stdout
    assert "Requeueing" in requeued.stderr  # the progress bar's label, on stderr
    purge = _invoke("dlq", "purge", *where, "--all", "--json", input="n\n")
    assert purge.exit_code == 1 and "Aborted" in purge.stderr  # asked, and refused
    purged = _invoke("dlq", "purge", *where, "--all", "--yes", "--json")
    assert json.loads(purged.stdout) == {"purged": 1500, "refused": []}
    counts = json.loads(_invoke("status", *where, "--json").stdout)
    assert {q["queue"]: q["counts"] for q in counts["queues"]} == {
        "a": {"pending": 1500}, "default": {}}


# -- events --follow ---------------------------------------------------------------------------

@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_events_follow_prints_events_as_they_come(tmp_path: Path, stop: int) -> None:
    url = f"sqlite:///{tmp_path}/x.db"
    proc = subprocess.Popen([sys.executable, "-m", "omniq", "events", "--url", url,
                             "--project", "p", "--follow", "--json"],
                            env={**_env(), "PYTHONFAULTHANDLER": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)  # it has looked once and is waiting
        with OmniQ(project_name="p", task_queue=url, event_store=url) as oq:
            first = oq.enqueue(add, 1, 1)
            second = oq.enqueue(add, 2, 2, queue_name="other")
        assert proc.stdout is not None
        seen = [json.loads(proc.stdout.readline()) for _ in range(2)]
        assert [(e["type"], e["task_id"]) for e in seen] == [("ENQUEUED", first),
                                                             ("ENQUEUED", second)]
        proc.send_signal(stop)  # Ctrl-C, or a script's kill: a normal end
        try:
            assert proc.wait(timeout=20) == 0
        except subprocess.TimeoutExpired:  # show where it was stuck
            proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
            pytest.fail(f"still running 20 s after {signal.Signals(stop).name}:\n"
                        f"{proc.communicate(timeout=10)[1]}")
    finally:
        if proc.poll() is None:
            proc.kill()


# -- commands from plugins ---------------------------------------------------------------------

def _plugin_dist(root: Path, entry_points: str) -> None:
    """A throwaway installed distribution: its module and its dist-info with entry points."""
    (root / "acme_cli.py").write_text(textwrap.dedent('''
        import click
        from omniq.cli import backend_options, run


        @click.command()
        @click.option("--name", default="world")
        def hello(name):
            """Say hello."""
            click.echo(f"hello {name}")


        @click.command()
        @backend_options
        def queues(source):
            """The project's queues, as the built-in commands see it."""
            async def work(client):
                return sorted(await client.task_counts())
            click.echo(" ".join(run(source, work)))


        not_a_command = 42
        '''))
    info = root / "acme_cli-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-cli\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


def test_plugin_commands_join_the_group_and_broken_ones_are_skipped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _plugin_dist(tmp_path, "[omniq.commands]\nhello = acme_cli:hello\n"
                           "queues = acme_cli:queues\nbroken = acme_cli_missing:command\n"
                           "number = acme_cli:not_a_command\nstatus = acme_cli:hello\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # as if installed: found by importlib.metadata

    hello = _invoke("hello", "--name", "plugins")
    assert hello.exit_code == 0 and hello.stdout == "hello plugins\n"
    listing = _invoke("--help")
    assert listing.exit_code == 0
    assert "hello" in listing.stdout and "Say hello." in listing.stdout
    assert "plugin command 'broken'" in listing.stderr and "skipped" in listing.stderr
    assert "plugin command 'number'" in listing.stderr and "not a click.Command" \
        in listing.stderr
    assert "number" not in listing.stdout.split("Commands:")[1].split()
    assert _invoke("plugins").exit_code == 0  # a broken plugin breaks nothing else
    broken = _invoke("broken")
    assert broken.exit_code == 2 and "could not be loaded" in broken.stderr
    builtin = _invoke("status", "--help")  # the built-in wins over the plugin's "status"
    assert builtin.exit_code == 0 and "Queues (tasks by state" in builtin.stdout
    # omniq.cli's exports give a plugin command the project as the built-in ones get it.
    url = f"sqlite:///{tmp_path}/x.db"
    with OmniQ(project_name="p", task_queue=url) as oq:
        oq.enqueue(add, 1, 2, queue_name="emails")
    queues = _invoke("queues", "--url", url, "--project", "p")
    assert queues.exit_code == 0 and queues.stdout == "emails\n"
    assert _invoke("queues", "--backend-type", "memory").exit_code == 2
