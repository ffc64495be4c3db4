"""An S3 endpoint for the file backend's tests: moto's server mode in a subprocess on a
loopback port (it needs no network and enforces If-None-Match / If-Match on PutObject),
started through ``tools/moto_s3_server.py``, which makes each conditional write atomic as
S3's are.
"""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from local_server import free_port, running

BUCKET = "omniq-test"
SERVER = Path(__file__).resolve().parents[1] / "tools" / "moto_s3_server.py"


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """The endpoint URL of a fresh moto server with the bucket :data:`BUCKET`."""
    pytest.importorskip("moto.server", reason="pip install 'moto[server]' for the S3 tests")
    pytest.importorskip("s3fs", reason="pip install s3fs for the S3 tests")
    port = free_port()
    with running([sys.executable, str(SERVER), "-H", "127.0.0.1", "-p", str(port)],
                 port, "moto server"):
        endpoint = f"http://127.0.0.1:{port}"
        create_bucket(endpoint, BUCKET)
        yield endpoint


def create_bucket(endpoint: str, name: str | None = None) -> str:
    """A new bucket on the server (a fresh name unless given): moto lists a bucket by reading
    every key in it, so tests that share a server keep their objects apart this way."""
    import s3fs

    name = name or f"t-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem(**s3_options(endpoint)).call_s3("create_bucket", Bucket=name)
    return name


def s3_options(endpoint: str) -> dict[str, Any]:
    """``storage_options`` for s3fs against the moto server (its fixed test credentials)."""
    return {"endpoint_url": endpoint, "key": "testing", "secret": "testing",
            "client_kwargs": {"region_name": "us-east-1"}}

