"""The ``omniq`` command: plugins, demo, and a worker that stops gracefully on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

TESTS = Path(__file__).parent


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(TESTS)}


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


def test_worker_with_a_bad_app_reports_a_clear_error(tmp_path) -> None:
    result = subprocess.run([sys.executable, "-m", "omniq", "worker", "--app", "nocolon"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert "module:attribute" in result.stderr
