"""The whole conformance kit (``omniq.testing``) on the ``file`` backend (omniq-fsspec), on a
local directory, on ``memory://``, on S3 (moto's server mode on a loopback port), on GCS
(fake-gcs-server on a loopback port) and on Azure Blob Storage (Azurite on a loopback port).

Each test gets its own project name, hence its own folder under the location; the folder is
removed afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from azurite import azure_options, azurite_server, create_container
from fake_gcs import create_bucket as create_gcs_bucket
from fake_gcs import gcs_options, gcs_server
from hypothesis import settings
from moto_s3 import create_bucket as create_s3_bucket
from moto_s3 import moto_server, s3_options
from omniq.models import TaskStatus
from omniq.testing import ConformanceTests
from omniq.testing._tasks import identity
from omniq_fsspec import AsyncFileEventStore, AsyncFileResultStore, AsyncFileTaskQueue
from omniq_fsspec._stores import open_store


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def gcs_endpoint() -> Iterator[str]:
    with gcs_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def azure_endpoint() -> Iterator[str]:
    with azurite_server() as endpoint:
        yield endpoint


class FileKit(ConformanceTests):
    """The kit's fixtures for every location; subclasses say where."""

    @pytest.fixture
    def backend_type(self) -> str:
        return "file"

    @pytest.fixture
    async def task_queue(self, backend_options: dict[str, Any],
                         project_name: str) -> AsyncIterator[AsyncFileTaskQueue]:
        async with AsyncFileTaskQueue(project_name=project_name, **backend_options) as queue:
            yield queue

    @pytest.fixture
    async def result_store(self, backend_options: dict[str, Any],
                           project_name: str) -> AsyncIterator[AsyncFileResultStore]:
        async with AsyncFileResultStore(project_name=project_name, **backend_options) as store:
            yield store

    @pytest.fixture
    async def event_store(self, backend_options: dict[str, Any],
                          project_name: str) -> AsyncIterator[AsyncFileEventStore]:
        async with AsyncFileEventStore(project_name=project_name, **backend_options) as store:
            yield store


def _remove_project(options: dict[str, Any], project_name: str) -> None:
    location = options.get("url") or options["base_dir"]
    open_store(f"{location.rstrip('/')}/{project_name}",
               options.get("storage_options")).remove_all()


class TestFileConformanceLocal(FileKit):
    @pytest.fixture
    def backend_options(self, tmp_path: Path) -> dict[str, Any]:
        return {"base_dir": str(tmp_path / "omniq")}


class TestFileConformanceMemory(FileKit):
    @pytest.fixture
    def store_scope(self) -> str:
        return "process"  # fsspec's memory:// is shared by this process only

    @pytest.fixture
    def backend_options(self, project_name: str) -> Iterator[dict[str, Any]]:
        options = {"url": "memory://omniq-kit"}
        yield options
        _remove_project(options, project_name)


class _EmulatedObjectStore(FileKit):
    """An object store emulated on a loopback port for this module, in memory: each test has
    a bucket (a container on Azure) of its own, left for the emulator's end to drop (removed
    one object at a time it cost up to 10 s a test). Not a folder in a shared bucket: moto
    lists a prefix by reading every object of its bucket (fake-gcs-server's listings slowed
    the same way), so each test ran slower than the last, until leases expired mid-test."""

    #: Fewer random sequences than the kit's 25: the queue's logic runs them all on the local
    #: directory and memory://, and here each step is several requests to a one-process
    #: emulator (S3's 25 took 108 s of the suite on a slow machine, 8 took 50 s); 5 sequences
    #: of 30 steps still drive the store's conditional writes through every operation.
    model_settings = settings(FileKit.model_settings, max_examples=5)

    @pytest.fixture(params=["async"])
    def worker_type(self, request: pytest.FixtureRequest) -> str:
        """The kit's worker tests under one worker type here, not three: every store call of
        a worker is made by the same code on its event loop whatever runs the task's code, so
        the thread and process pools add no store traffic the async worker does not, and they
        run against the local directory and memory:// above (the other two were 50 of each
        of these classes' 204 tests)."""
        return str(request.param)

    @pytest.fixture
    def worker_settings(self) -> dict[str, Any]:
        # A renewal is about 30 ms alone, but up to 0.5 s amid a worker's claims and
        # completions, all going to one emulator process on this machine: a 1 s lease lapsed
        # between heartbeats, and the worker's own maintenance requeued its running task.
        return {"lease": 3.0}

    #: A quarter of the kit's sizes (every test still runs): the claim races, the bulk enqueue
    #: and the large event batch are thousands of requests to the emulator at full size.
    volume = 0.25

    @pytest.mark.anyio
    async def test_enqueue_many_in_one_call_is_quick(self, task_queue: Any) -> None:
        """250 tasks are about 750 requests to an object store, here an emulator on this
        machine (moto is one Python process; 15 ms a request on Azurite here): the kit's
        bound, 2.5 s, is the store's, not the emulator's. Here one call stores all 250 within
        30 s."""
        n = self.sized(1000)
        with anyio.fail_after(30):
            ids = await task_queue.enqueue_many(identity, range(n), queue_name="bulk")
        assert len(ids) == len(set(ids)) == n
        assert await task_queue.count_tasks(queue_name="bulk", status=TaskStatus.PENDING) == n


class TestFileConformanceS3(_EmulatedObjectStore):
    @pytest.fixture
    def backend_options(self, s3_endpoint: str) -> dict[str, Any]:
        return {"url": f"s3://{create_s3_bucket(s3_endpoint)}/{uuid.uuid4().hex[:8]}",
                "storage_options": s3_options(s3_endpoint)}


class TestFileConformanceGCS(_EmulatedObjectStore):
    @pytest.fixture
    def backend_options(self, gcs_endpoint: str) -> dict[str, Any]:
        return {"url": f"gs://{create_gcs_bucket(gcs_endpoint)}/{uuid.uuid4().hex[:8]}",
                "storage_options": gcs_options(gcs_endpoint)}


class TestFileConformanceAzure(_EmulatedObjectStore):
    @pytest.fixture
    def backend_options(self, azure_endpoint: str) -> dict[str, Any]:
        return {"url": f"abfs://{create_container(azure_endpoint)}/{uuid.uuid4().hex[:8]}",
                "storage_options": azure_options(azure_endpoint)}
