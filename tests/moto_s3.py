"""An S3 endpoint for the file backend's tests: moto's server mode in a subprocess on a
loopback port (it needs no network and enforces If-None-Match / If-Match on PutObject)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from local_server import free_port, running

BUCKET = "omniq-test"


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """The endpoint URL of a fresh moto server with the bucket :data:`BUCKET`."""
    pytest.importorskip("moto.server", reason="pip install 'moto[server]' for the S3 tests")
    pytest.importorskip("s3fs", reason="pip install s3fs for the S3 tests")
    port = free_port()
    with running([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                 port, "moto server"):
        endpoint = f"http://127.0.0.1:{port}"
        import s3fs

        s3fs.S3FileSystem(**s3_options(endpoint)).call_s3("create_bucket", Bucket=BUCKET)
        yield endpoint


def s3_options(endpoint: str) -> dict[str, Any]:
    """``storage_options`` for s3fs against the moto server (its fixed test credentials)."""
    return {"endpoint_url": endpoint, "key": "testing", "secret": "testing",
            "client_kwargs": {"region_name": "us-east-1"}}
