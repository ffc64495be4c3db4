"""The whole conformance kit (``omniq.testing``) on the ``nats`` backend.

Each test gets its own project name, so its buckets and stream
(``omniq_<project>_tasks``, ``_results``, ``_events``) are its own on the shared server; they
are deleted afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import nats
import pytest
from omniq.testing import ConformanceTests
from omniq_nats import AsyncNATSEventStore, AsyncNATSResultStore, AsyncNATSTaskQueue

pytestmark = pytest.mark.nats


async def drop_project_streams(url: str, project_name: str) -> int:
    """Delete every stream (buckets are streams too) of one project."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        names = [f"KV_omniq_{project_name}_tasks", f"KV_omniq_{project_name}_results",
                 f"omniq_{project_name}_events"]
        dropped = 0
        for name in names:
            try:
                await js.delete_stream(name)
                dropped += 1
            except nats.js.errors.NotFoundError:
                pass
        return dropped
    finally:
        await nc.close()


#: Every project this module used: swept once more at the end, because a worker's background
#: task that outlives its test can connect again (components connect on use), which creates
#: an empty bucket after the test's own cleanup.
_USED: set[tuple[str, str]] = set()


@pytest.fixture(scope="module", autouse=True)
def _sweep_stragglers() -> Iterator[None]:
    yield
    if _USED:
        asyncio.run(_sweep(sorted(_USED)))


async def _sweep(projects: list[tuple[str, str]]) -> None:
    for url, project_name in projects:
        try:
            await drop_project_streams(url, project_name)
        except Exception:  # the server is gone: nothing to sweep
            return


class TestNATSConformance(ConformanceTests):
    @pytest.fixture
    def backend_type(self) -> str:
        return "nats"

    @pytest.fixture
    async def backend_options(self, nats_url: str,
                              project_name: str) -> AsyncIterator[dict[str, Any]]:
        _USED.add((nats_url, project_name))
        yield {"url": nats_url}
        await drop_project_streams(nats_url, project_name)

    @pytest.fixture
    async def task_queue(self, backend_options: dict[str, Any],
                         project_name: str) -> AsyncIterator[AsyncNATSTaskQueue]:
        async with AsyncNATSTaskQueue(project_name=project_name, **backend_options) as queue:
            yield queue

    @pytest.fixture
    async def result_store(self, backend_options: dict[str, Any],
                           project_name: str) -> AsyncIterator[AsyncNATSResultStore]:
        async with AsyncNATSResultStore(project_name=project_name, **backend_options) as store:
            yield store

    @pytest.fixture
    async def event_store(self, backend_options: dict[str, Any],
                          project_name: str) -> AsyncIterator[AsyncNATSEventStore]:
        async with AsyncNATSEventStore(project_name=project_name, **backend_options) as store:
            yield store
