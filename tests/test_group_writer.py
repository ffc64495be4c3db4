"""Concurrent enqueues share round trips (``omniq.queue._writer``), and each still returns only
once its own task is stored."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest
from omniq import TaskStatus
from omniq.exceptions import BackendError
from omniq.models import Task
from omniq_sqlite import AsyncSQLiteTaskQueue
from tasks_sqlite import noop

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class CountingQueue(AsyncSQLiteTaskQueue):
    """The real SQLite queue, recording the batches it is asked to store; a task named
    ``refused`` makes any batch holding it fail, as a store refusing one record would."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.batches: list[int] = []

    async def add_tasks(self, tasks: Sequence[Task]) -> list[bool]:
        self.batches.append(len(tasks))
        if any(t.name == "refused" for t in tasks):
            raise BackendError("refused a record")
        return await super().add_tasks(tasks)


async def test_a_lone_enqueue_is_written_alone(tmp_path: Path) -> None:
    async with CountingQueue(project_name="p", database_path=tmp_path / "q.db") as queue:
        await queue.enqueue(noop)
        await queue.enqueue(noop)
        assert queue.batches == [1, 1]


async def test_concurrent_enqueues_share_batches_and_are_all_stored(tmp_path: Path) -> None:
    ids: list[str] = []
    async with CountingQueue(project_name="p", database_path=tmp_path / "q.db") as queue:

        async def produce() -> None:
            for _ in range(5):
                task_id = await queue.enqueue(noop)
                # Acknowledged means stored: it can be read back at once.
                assert await queue.get_task(task_id) is not None
                ids.append(task_id)

        async with anyio.create_task_group() as tg:
            for _ in range(100):
                tg.start_soon(produce)
        assert len(set(ids)) == 500
        assert sum(queue.batches) == 500
        assert len(queue.batches) <= 50, queue.batches  # 500 writes one by one otherwise
        assert await queue.count_tasks(status=TaskStatus.PENDING) == 500


async def test_one_refused_task_fails_only_its_own_enqueue(tmp_path: Path) -> None:
    async with CountingQueue(project_name="p", database_path=tmp_path / "q.db") as queue:
        outcomes: dict[str, object] = {}

        async def produce(name: str) -> None:
            try:
                outcomes[name] = await queue.enqueue(noop, name=name)
            except BackendError as exc:
                outcomes[name] = exc

        async with anyio.create_task_group() as tg:
            for name in ("a", "refused", "b", "c"):
                tg.start_soon(produce, name)
        assert isinstance(outcomes.pop("refused"), BackendError)
        assert all(isinstance(v, str) for v in outcomes.values()), outcomes
        assert max(queue.batches) > 1  # they did share a batch before it failed
        for task_id in outcomes.values():
            assert await queue.get_task(str(task_id)) is not None


async def test_a_large_bulk_enqueue_is_written_in_chunks_while_it_is_built(
        tmp_path: Path) -> None:
    async with CountingQueue(project_name="p", database_path=tmp_path / "q.db") as queue:
        ids = await queue.enqueue_many(noop, [() for _ in range(2500)])
        # The first chunk goes out alone; the later ones go as they are built, merged when
        # several are ready while one is being written.
        assert queue.batches[0] == 1000 and len(queue.batches) >= 2
        assert sum(queue.batches) == 2500
        assert len(set(ids)) == 2500
        tasks = await queue.list_tasks(limit=3000)
        assert [t.id for t in tasks] == ids  # ids are time-ordered: the order of the items


async def test_a_bulk_enqueue_with_an_argument_to_pickle_is_built_whole_first(
        tmp_path: Path) -> None:
    async with CountingQueue(project_name="p", database_path=tmp_path / "q.db") as queue:
        items = [(i,) for i in range(1500)] + [(object(),)]  # may fail: nothing stored then
        await queue.enqueue_many(len, items)
        assert queue.batches == [1501]
