"""Task functions of the sqlite tests, importable by worker processes.

Each task appends a line to a file named after the process that ran it (``O_APPEND``, one
``write`` per line): that record survives SIGKILL and cannot be faked by the store, so the
tests count real executions, not what the queue says happened.
"""

from __future__ import annotations

import os
import time


def _append(out_dir: str, line: str) -> None:
    fd = os.open(os.path.join(out_dir, f"{os.getpid()}.log"),
                 os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


def record(number: int, out_dir: str) -> int:
    """Log that task ``number`` ran."""
    _append(out_dir, f"done {number}")
    return number


def slow_record(number: int, out_dir: str, seconds: float) -> int:
    """Log the start, sleep, log the end: a task a test can kill a worker in the middle of."""
    _append(out_dir, f"start {number}")
    time.sleep(seconds)
    _append(out_dir, f"done {number}")
    return number


def noop() -> None:
    return None


def read_logs(out_dir: str) -> dict[int, list[str]]:
    """Lines of every process's log, by pid."""
    logs: dict[int, list[str]] = {}
    for name in os.listdir(out_dir):
        if name.endswith(".log"):
            with open(os.path.join(out_dir, name)) as f:
                logs[int(name[:-4])] = f.read().split("\n")[:-1]
    return logs


async def anoop() -> int:
    """An async no-op (the benchmarks' task)."""
    return 1


def kill_my_worker() -> None:
    """A poison pill: ends the worker process running it, every time."""
    time.sleep(0.2)  # long enough for the tasks claimed beside it to be running too
    os._exit(13)
