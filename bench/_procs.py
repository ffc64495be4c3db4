"""Worker processes: spawn with a system's own worker CLI, watch, and stop.

Each worker runs in its own process group so that stopping it also stops whatever it forked
(RQ's work horses, taskiq's and Dramatiq's child processes). Every group id is appended to a pid
file that ``bench/run.py`` reads to kill leftovers if a client has to be killed on its deadline.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))


class WorkerDied(RuntimeError):
    """A worker process exited while the workload still needed it."""


@dataclass
class Worker:
    """One spawned worker process (the leader of its own process group)."""

    argv: list[str]
    log_path: str
    proc: subprocess.Popen[bytes]
    started: float = field(default_factory=time.perf_counter)

    def check_alive(self) -> None:
        """Raise ``WorkerDied`` (with the end of its log) if the worker has exited."""
        code = self.proc.poll()
        if code is not None:
            raise WorkerDied(f"worker exited with code {code}: {log_tail(self.log_path)}")

    def stop(self, grace: float = 0.5) -> None:
        """SIGTERM the worker's group, SIGKILL after ``grace`` seconds.

        Called once the measurement is over, so a warm shutdown buys nothing (some CLIs take
        seconds, waiting out their idle polls or pools); every run resets the store after.
        """
        if self.proc.poll() is None:
            _signal_group(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(grace)
        # Children (work horses, pool processes) may outlive a leader that exited.
        _signal_group(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)


def spawn_worker(argv: list[str], env: dict[str, str], log_path: str, pid_file: str) -> Worker:
    """Start one worker process in its own process group, output to ``log_path``."""
    full_env = dict(os.environ)
    full_env.update(env)
    full_env["PYTHONPATH"] = BENCH_DIR + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    with open(log_path, "ab") as log:
        log.write(f"$ {' '.join(argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            argv,
            cwd=BENCH_DIR,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
    with open(pid_file, "a") as fh:
        fh.write(f"{proc.pid}\n")
    return Worker(argv=argv, log_path=log_path, proc=proc)


def kill_groups_from_file(pid_file: str) -> None:
    """SIGKILL every process group listed in ``pid_file`` (each one a worker we spawned)."""
    try:
        with open(pid_file) as fh:
            pids = [int(line) for line in fh if line.strip()]
    except FileNotFoundError:
        return
    for pid in pids:
        _signal_group(pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def log_tail(path: str, limit: int = 600) -> str:
    """The last ``limit`` characters of a log file, on one line."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    return " | ".join(line.strip() for line in text.splitlines() if line.strip())[-limit:]
