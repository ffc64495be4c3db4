"""A private PostgreSQL cluster for the tests that restart a server or need passwords: initdb
into a temporary directory, pg_ctl on a free loopback port, scram-sha-256 passwords. Only
that cluster is ever stopped; the shared server on 5432 is never touched."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

PASSWORD = "omniq-test-pw"


@dataclass
class Cluster:
    bindir: str
    data: str
    port: int

    def dsn(self, password: str = PASSWORD, database: str = "postgres") -> str:
        return f"postgresql://postgres:{password}@127.0.0.1:{self.port}/{database}"

    def pg_ctl(self, *args: str) -> None:
        _run([f"{self.bindir}/pg_ctl", "-D", self.data, "-w", "-t", "60", *args])

    def _options(self) -> list[str]:
        return ["-l", f"{self.data}/server.log", "-o",
                f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"]

    def start(self) -> None:
        self.pg_ctl(*self._options(), "start")

    def stop(self, mode: str = "immediate") -> None:
        """``immediate``: the postmaster and its backends quit at once, as if killed; the
        next start recovers from the write-ahead log."""
        self.pg_ctl("-m", mode, "stop")

    def postmaster_pid(self) -> int:
        return int(Path(self.data, "postmaster.pid").read_text().split()[0])

    def restart(self, mode: str) -> None:
        self.pg_ctl("-m", mode, *self._options(), "restart")


def _run(argv: list[str]) -> None:
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        argv = ["runuser", "-u", "postgres", "--", *argv]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)


def _free_port(preferred: int = 15432) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError("no free port")


@contextmanager
def private_cluster() -> Iterator[Cluster]:
    """A running cluster of the caller's own (user ``postgres``, password :data:`PASSWORD`),
    stopped and deleted at the end."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or \
        [p for p in [shutil.which("initdb")] if p]
    if not found:
        pytest.skip("initdb not found (install the PostgreSQL server binaries)")
    bindir = os.path.dirname(found[-1])
    root = tempfile.mkdtemp(prefix="omniq-pg-")
    data = os.path.join(root, "data")
    pwfile = os.path.join(root, "pw")
    Path(pwfile).write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(pwfile, "postgres")
    try:
        _run([f"{bindir}/initdb", "-D", data, "-U", "postgres", "--auth-host=scram-sha-256",
              "--auth-local=trust", f"--pwfile={pwfile}", "--no-sync", "-E", "UTF8"])
        own = Cluster(bindir, data, _free_port())
        own.start()
        try:
            yield own
        finally:
            if os.path.exists(os.path.join(data, "postmaster.pid")):
                own.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
