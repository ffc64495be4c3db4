"""Task functions for the multi-process Redis tests (importable by worker processes).

Every execution leaves a line in a file of the process that ran it (``<dir>/<pid>.log``),
written with ``O_APPEND`` before the task returns: the side effect the tests count to tell
"ran once" from "ran twice" or "never ran", whatever the store says.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

_fds: dict[str, int] = {}


def _log(out_dir: str, line: str) -> None:
    fd = _fds.get(out_dir)
    if fd is None:
        fd = _fds[out_dir] = os.open(os.path.join(out_dir, f"{os.getpid()}.log"),
                                     os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.write(fd, f"{line}\n".encode())


def record(n: int, out_dir: str) -> int:
    """Note that task ``n`` ran here; returns ``n``."""
    _log(out_dir, f"run {n}")
    return n


async def record_after(n: int, out_dir: str, seconds: float) -> int:
    """Like :func:`record`, after ``seconds`` of (async) work."""
    import asyncio

    await asyncio.sleep(seconds)
    _log(out_dir, f"run {n}")
    return n


def stall_once(out_dir: str, seconds: float) -> str:
    """Note the start; the first time (no ``stalled`` marker yet) stall for ``seconds``,
    so a test can kill the process mid-task; afterwards return at once."""
    _log(out_dir, "start stall")
    marker = Path(out_dir) / "stalled"
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        time.sleep(seconds)
    _log(out_dir, "done stall")
    return "stalled"


# -- a private Redis server for the tests that restart one or need a password ----------------
class RedisServer:
    """A ``redis-server`` of the test's own, on a free loopback port in ``directory``,
    appending every write to its AOF with ``appendfsync always`` (so a restart keeps every
    acknowledged write). Only this process is ever stopped, by its pid or SHUTDOWN."""

    def __init__(self, directory: Path, *extra: str) -> None:
        import socket

        self.directory, self.extra = directory, extra
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc: object = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import shutil
        import socket
        import subprocess

        binary = shutil.which("redis-server")
        if binary is None:
            import pytest

            pytest.skip("redis-server is not installed")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
             str(self.directory), "--appendonly", "yes", "--appendfsync", "always",
             "--save", "", "--daemonize", "no", *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def shutdown(self) -> None:
        """SHUTDOWN (the AOF is complete: appendfsync always), then reap the process."""
        import subprocess

        proc = self.proc
        assert isinstance(proc, subprocess.Popen)
        try:
            import redis

            redis.Redis(port=self.port, password=self._password()).shutdown()
        except Exception:  # redis-py reports the dropped connection of a SHUTDOWN
            pass
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def _password(self) -> str | None:
        if "--requirepass" in self.extra:
            return self.extra[self.extra.index("--requirepass") + 1]
        return None

    def stop(self) -> None:
        import subprocess

        proc = self.proc
        if isinstance(proc, subprocess.Popen) and proc.poll() is None:
            proc.kill()
            proc.wait(5)
