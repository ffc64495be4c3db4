"""``omniq dashboard``: added to the ``omniq`` command by omniq-dashboard's ``omniq.commands``
entry point; serves on loopback, read-only unless ``--allow-actions``, stops on SIGINT."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from omniq import OmniQ
from omniq.testing import _tasks


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(url: str, data: bytes | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, data=data, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def serve(*args: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "omniq", "dashboard", *args,
                             "--port", str(port)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    line = proc.stdout.readline()
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
