"""The operations commands as a user runs them: ``omniq dashboard`` (added to the ``omniq``
command by omniq-dashboard's ``omniq.commands`` entry point: loopback, read-only unless
``--allow-actions``, stops on SIGINT) and ``omniq worker --metrics-port``."""

from __future__ import annotations

import importlib.metadata
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import click
from click.testing import CliRunner
from local_server import free_port
from omniq import OmniQ
from omniq.cli import cli
from omniq.testing import _tasks


def get(url: str, data: bytes | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, data=data, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def start(*args: str) -> tuple[subprocess.Popen[str], str]:
    """``omniq ARGS`` in a process; returns it and the first line it printed."""
    proc = subprocess.Popen([sys.executable, "-m", "omniq", *args], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    return proc, proc.stdout.readline()


def serve(*args: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    proc, line = start("dashboard", *args, "--port", str(port))
    assert f"on http://127.0.0.1:{port}/" in line, line
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            get(base + "/")
            return proc, base
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None, "no dashboard"
            time.sleep(0.1)


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(15)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_omniq_dashboard_serves_read_only_on_loopback(tmp_path: Path, project_name: str) -> None:
    url = f"sqlite:///{tmp_path}/tasks.db"
    with OmniQ(project_name=project_name, task_queue=url) as oq:
        task_id = oq.enqueue(_tasks.add, 1, 2)
        schedule = oq.schedule(_tasks.noop, interval=3600)
    proc, base = serve("--url", url, "--project", project_name)
    try:
        status, page = get(base + "/tasks")
        assert status == 200 and task_id in page and "read-only" in page
        status, page = get(f"{base}/schedules/{schedule}/pause", data=b"token=x")
        assert status == 403 and "--allow-actions" in page
    finally:
        assert stop(proc) == 0
    proc, base = serve("--url", url, "--project", project_name, "--allow-actions")
    try:
        assert "actions allowed" in get(base + "/schedules")[1]
    finally:
        assert stop(proc) == 0


def test_omniq_dashboard_refuses_the_memory_backend() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIQ_")}
    done = subprocess.run([sys.executable, "-m", "omniq", "dashboard"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode == 2
    assert "cannot see the in-process 'memory' backend" in done.stderr


def test_omniq_dashboard_refuses_a_port_in_use_before_it_announces_itself(
        tmp_path: Path, project_name: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "omniq", "dashboard", "--url",
                               f"sqlite:///{tmp_path}/tasks.db", "--project", project_name,
                               "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done  # a usage error, not 3 (the store unavailable)
    assert done.stdout == ""  # nothing announced that is not served
    assert f"cannot serve the dashboard on 127.0.0.1:{port}" in done.stderr
    assert "another --port (0: any free port)" in done.stderr


def test_omniq_worker_serves_metrics_on_the_port_it_is_given(tmp_path: Path,
                                                             project_name: str) -> None:
    url = f"sqlite:///{tmp_path}/tasks.db"
    port = free_port()
    proc, line = start("worker", "--url", url, "--project", project_name,
                       "--metrics-port", str(port))
    try:
        assert f"metrics on http://127.0.0.1:{port}/metrics" in line, line
        with OmniQ(project_name=project_name, task_queue=url) as oq:
            assert oq.get_result(oq.enqueue(_tasks.add, 2, 3), timeout=20) == 5
            oq.enqueue(_tasks.add, 0, 0, run_in=3600)
        deadline = time.monotonic() + 10
        while True:
            status, text = get(f"http://127.0.0.1:{port}/metrics")
            if 'omniq_tasks_completed_total{function="omniq.testing._tasks:add"' in text:
                break
            assert time.monotonic() < deadline, text[-2000:]
            time.sleep(0.1)
        assert status == 200
        assert 'omniq_queue_depth{queue="default",status="pending"} 1.0' in text
        assert 'omniq_task_run_seconds_count{function="omniq.testing._tasks:add",' \
               'queue="default"} 1.0' in text
    finally:
        assert stop(proc) == 0


def test_the_dashboard_command_comes_from_its_distribution_entry_point() -> None:
    found = [ep for ep in importlib.metadata.entry_points(group="omniq.commands")
             if ep.name == "dashboard"]
    assert [ep.dist.name for ep in found if ep.dist] == ["omniq-dashboard"]
    assert isinstance(found[0].load(), click.Command)
    listed = CliRunner().invoke(cli, ["--help"])
    assert listed.exit_code == 0 and "dashboard" in listed.output
    helped = CliRunner().invoke(cli, ["dashboard", "--help"])
    assert helped.exit_code == 0
    for option in ("--allow-actions", "--host", "--port", "--url", "--config", "--app"):
        assert option in helped.output, option
