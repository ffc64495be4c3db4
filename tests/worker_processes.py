"""Worker processes a test starts, each a script that prints ``ready`` once its worker runs;
always stopped at the end of the test (SIGTERM, then SIGKILL), by their own pids."""

from __future__ import annotations

import collections
import os
import selectors
import signal
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent


class WorkerProcesses:
    def __init__(self, script: str) -> None:
        self.script = TESTS / script
        self.procs: list[subprocess.Popen[str]] = []

    def spawn(self, *args: object) -> subprocess.Popen[str]:
        """Start ``script`` with ``args``; return once it printed ``ready`` (30 s at most)."""
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path])}
        proc = subprocess.Popen([sys.executable, str(self.script), *map(str, args)],
                                stdout=subprocess.PIPE, text=True, env=env)
        self.procs.append(proc)
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout=30) or proc.stdout.readline().strip() != "ready":
                raise RuntimeError(f"worker process {self.script.name} did not start")
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def executions(out: Path) -> collections.Counter[str]:
    """Every line the task functions wrote to their per-process logs in ``out``."""
    lines: collections.Counter[str] = collections.Counter()
    for log in out.glob("*.log"):
        lines.update(line for line in log.read_text().splitlines() if line)
    return lines


class LocalWorkers(WorkerProcesses):
    """Worker processes on one local store: ``script LOCATION PROJECT CONCURRENCY LEASE``
    (a database file, a directory)."""

    def __init__(self, script: str, location: str, project: str) -> None:
        super().__init__(script)
        self.location, self.project = location, project

    def start(self, concurrency: int, lease: float) -> subprocess.Popen[str]:
        return self.spawn(self.location, self.project, concurrency, lease)


class ServerWorkers(WorkerProcesses):
    """Worker processes on a server: ``script URL PROJECT --max-workers N --lease S
    [--queues Q]``."""

    def start(self, url: str, project: str, *, max_workers: int = 10, lease: float = 30.0,
              queues: str | None = None) -> subprocess.Popen[str]:
        extra = ("--queues", queues) if queues is not None else ()
        return self.spawn(url, project, "--max-workers", max_workers, "--lease", lease, *extra)
