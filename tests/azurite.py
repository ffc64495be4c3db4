"""An Azure Blob endpoint for the file backend's tests: Azurite (the npm package ``azurite``),
started by the tests on a loopback port with its data in a temporary folder, stopped by pid.

``azurite-blob`` is found through ``AZURITE_BLOB``, on ``PATH``, or where ``.ci/run`` installs
it (``npm install --prefix ~/.cache/omniq-azurite azurite``). Without it the tests skip with
that command (in CI they fail: ``.ci/run`` installs it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from local_server import free_port, running

CONTAINER = "omniq-test"
#: Azurite's fixed development account (public, documented with Azurite).
ACCOUNT = "devstoreaccount1"
KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
       "KBHBeksoGMGw==")
INSTALL = "npm install --prefix ~/.cache/omniq-azurite azurite@3.35.0"


def azurite_blob() -> str | None:
    """The ``azurite-blob`` command, or None."""
    given = os.environ.get("AZURITE_BLOB")
    if given:
        return given
    cached = Path.home() / ".cache" / "omniq-azurite" / "node_modules" / ".bin" / "azurite-blob"
    return shutil.which("azurite-blob") or (str(cached) if cached.exists() else None)


def azure_options(endpoint: str) -> dict[str, Any]:
    """``storage_options`` for adlfs against the Azurite at ``endpoint``."""
    return {"connection_string": f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};"
                                 f"AccountKey={KEY};BlobEndpoint={endpoint};"}


@contextlib.contextmanager
def azurite_server() -> Iterator[str]:
    """The blob endpoint of a fresh Azurite holding the container :data:`CONTAINER`."""
    command = azurite_blob()
    if command is None:
        message = f"Azurite is not installed; install it with: {INSTALL}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    pytest.importorskip("adlfs", reason="pip install adlfs for the Azure tests")
    port = free_port()
    # In memory (much faster than its on-disk database), no telemetry (no traffic off
    # loopback); started in a temporary folder, so whatever it writes goes there.
    with tempfile.TemporaryDirectory(prefix="omniq-azurite-") as data, running(
            [command, "--skipApiVersionCheck", "--blobHost", "127.0.0.1", "--blobPort",
             str(port), "--inMemoryPersistence", "--disableTelemetry", "--silent"],
            port, "Azurite", cwd=data):
        endpoint = f"http://127.0.0.1:{port}/{ACCOUNT}"
        create_container(endpoint, CONTAINER)
        yield endpoint


def create_container(endpoint: str, name: str | None = None) -> str:
    """A new container on the Azurite (a fresh name unless given): tests that share an Azurite
    keep their blobs apart this way, as they do on the S3 and GCS emulators."""
    from azure.storage.blob import BlobServiceClient

    name = name or f"t-{uuid.uuid4().hex[:12]}"
    with BlobServiceClient.from_connection_string(
            azure_options(endpoint)["connection_string"]) as client:
        client.create_container(name)
    return name
