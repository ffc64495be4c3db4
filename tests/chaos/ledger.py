"""The ledger: what chaos tasks really did, written by the tasks themselves, apart from any
backend.

Every run of a task appends lines to a file of the process running it (``<dir>/<pid>.log``,
``O_APPEND``, one ``write`` per line, so a SIGKILL leaves only whole lines and the store can
neither lose nor fake them): ``start KEY ATTEMPT TIME`` before its work and ``done KEY ATTEMPT
TIME`` after. KEY is the test's own number for the task, ATTEMPT the claim it ran under (its
fencing token), TIME the wall clock, which the fault driver stamps its faults with too.

Worker processes import this module by name (the tests' folders are on their path).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from omniq import current_task

_files: dict[str, int] = {}


def _write(ledger: str, what: str, key: int) -> None:
    fd = _files.get(ledger)
    if fd is None:
        fd = _files[ledger] = os.open(os.path.join(ledger, f"{os.getpid()}.log"),
                                      os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    ctx = current_task()
    attempt = ctx.attempt if ctx is not None else 0
    os.write(fd, f"{what} {key} {attempt} {time.time():.6f}\n".encode())


def work(key: int, ledger: str, seconds: float = 0.0) -> int:
    """A task that waits ``seconds`` (I/O-like: the GIL is free meanwhile)."""
    _write(ledger, "start", key)
    if seconds:
        time.sleep(seconds)
    _write(ledger, "done", key)
    return key


def spin(key: int, ledger: str, seconds: float) -> int:
    """A CPU-bound task: pure Python arithmetic for ``seconds``, holding the GIL as much as
    the interpreter lets it."""
    _write(ledger, "start", key)
    deadline = time.monotonic() + seconds
    total = 0
    while time.monotonic() < deadline:
        for i in range(10_000):
            total += i * i
    _write(ledger, "done", key)
    return key


def pill(key: int, ledger: str) -> None:
    """A poison pill: ends the worker process running it, every time."""
    _write(ledger, "start", key)
    time.sleep(0.3)  # long enough for the tasks claimed beside it to be running too
    os._exit(13)


@dataclass
class Run:
    """One run of a task, as the ledger tells it."""

    key: int
    pid: int
    attempt: int
    started: float
    finished: float | None  # None: its process died (or was stopped) before the end


def read(ledger: Path) -> list[Run]:
    """Every run recorded in ``ledger``, in start order."""
    runs: dict[tuple[int, int, int], Run] = {}
    for log in ledger.glob("*.log"):
        pid = int(log.stem)
        for line in log.read_text().splitlines():
            what, key, attempt, at = line.split()
            ident = (pid, int(key), int(attempt))
            if what == "start":
                runs[ident] = Run(int(key), pid, int(attempt), float(at), None)
            else:
                runs[ident].finished = float(at)
    return sorted(runs.values(), key=lambda run: run.started)
