"""Task functions for the PostgreSQL multi-process tests (imported by worker processes).

``record`` leaves evidence that cannot lie: each execution appends one line to a file of its
own process (``$OMNIQ_PG_RECORD_DIR/<pid>.log``) with O_APPEND, so counting lines across the
files counts executions, whatever the store says.
"""

from __future__ import annotations

import asyncio
import os


def _append(line: str) -> None:
    folder = os.environ["OMNIQ_PG_RECORD_DIR"]
    fd = os.open(os.path.join(folder, f"{os.getpid()}.log"),
                 os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


async def noop() -> int:
    return 1


async def record(n: int) -> int:
    """Record that task ``n`` ran in this process."""
    _append(str(n))
    return n


def _started_before(n: int) -> bool:
    folder = os.environ["OMNIQ_PG_RECORD_DIR"]
    for name in os.listdir(folder):
        with open(os.path.join(folder, name)) as f:
            if f"start {n}\n" in f.read():
                return True
    return False


async def record_then_sleep(n: int, seconds: float) -> int:
    """Record the start of task ``n`` and, on its first run only, take ``seconds`` (long
    enough to be killed mid-task); a rerun finishes at once."""
    first = not _started_before(n)
    _append(f"start {n}")
    if first:
        await asyncio.sleep(seconds)
    _append(f"done {n}")
    return n
