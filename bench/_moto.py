"""An S3 endpoint for the file backend's S3 figures: moto's server mode in a subprocess on a
loopback port (no network; it enforces If-None-Match / If-Match on PutObject), started
through ``tools/moto_s3_server.py``, which makes each conditional write atomic as S3's are.

Used by ``run.py`` (the ``omniq-file-s3`` row: ``BENCH_S3_URL``) and ``scale_file.py --s3``.
Standard library only; the server runs in an interpreter with ``moto[server]`` (the one of
``requirements-dev.txt``).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BUCKET = "omniq-bench"
SERVER = Path(__file__).resolve().parents[1] / "tools" / "moto_s3_server.py"


def s3_options(endpoint: str) -> dict[str, Any]:
    """``storage_options`` for s3fs against the moto server (its fixed test credentials)."""
    return {"endpoint_url": endpoint, "key": "testing", "secret": "testing",
            "client_kwargs": {"region_name": "us-east-1"}}


@contextlib.contextmanager
def moto_server(python: str = sys.executable) -> Iterator[str]:
    """The endpoint URL of a fresh moto server (run by ``python``) holding :data:`BUCKET`;
    stopped (by its pid) on exit."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = subprocess.Popen([python, str(SERVER), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"moto server did not start ({python} needs "
                                       "pip install 'moto[server]')") from None
                time.sleep(0.1)
        endpoint = f"http://127.0.0.1:{port}"
        # moto takes an unsigned CreateBucket (a PUT of the bucket's path).
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/{BUCKET}", method="PUT"),
                               timeout=10).close()
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
