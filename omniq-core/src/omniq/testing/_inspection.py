"""``InspectionTests``: the reads ``omniq status``, ``omniq tasks list`` and dashboards use:
``page_tasks`` (keyset pages by queue and status), ``task_counts``, and what the core builds on
them (``find_tasks``, ``oldest_waiting``, ``queue_stats``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec
import pytest

from ..models import MinuteCount, TaskFilter, TaskStatus
from ._registry import worker_info
from ._support import KitBase, add, make_task, moment

_replace = msgspec.structs.replace
S = TaskStatus


async def population(task_queue: Any) -> dict[str, Any]:
    """Tasks in two queues and five statuses, some named or tagged, by name."""
    now = moment()

    def task(queue: str, **options: Any) -> Any:
        return make_task(task_queue, now=now, queue_name=queue, **options)

    made = {
        "a_done": task("qa", name="report", tags=["nightly"]),
        "a_failed": task("qa"),
        "a_running": task("qa", tags=["nightly"]),
        "b_done1": task("qb", name="report"),
        "b_done2": task("qb"),
        "a_pending": task("qa", tags=["nightly", "x"]),
        "a_later": task("qa", delay=3600),
        "b_pending": task("qb", name="other"),
    }
    first = [made[k] for k in ("a_done", "a_failed", "a_running", "b_done1", "b_done2")]
    await add(task_queue, *first)
    claimed = {t.id: t for t in await task_queue.claim(["qa", "qb"], worker_id="kit", lease=60,
                                                        now=now, limit=5)}
    assert len(claimed) == 5
    ends = {"a_done": S.COMPLETED, "a_failed": S.FAILED, "b_done1": S.COMPLETED,
            "b_done2": S.COMPLETED}
    finished = [(_replace(claimed[made[k].id], status=s), claimed[made[k].id].attempts)
                for k, s in ends.items()]
    assert all(await task_queue.finish_tasks(finished))
    await add(task_queue, made["a_pending"], made["a_later"], made["b_pending"])
    return {k: await task_queue.get_task(t.id) for k, t in made.items()}


def _ids(tasks: Any) -> list[str]:
    return [t.id for t in tasks]


class InspectionTests(KitBase):
    """Inspection reads (fixture: ``task_queue``)."""

    @pytest.mark.anyio
    async def test_page_tasks_walks_every_selection_by_id_both_ways(self,
                                                                    task_queue: Any) -> None:
        made = await population(task_queue)
        selections = [(None, None), ("qa", None), ("qb", None), (None, S.COMPLETED),
                      (None, S.PENDING), (None, S.RUNNING), (None, S.FAILED),
                      ("qa", S.PENDING), ("qb", S.COMPLETED), ("qa", S.WAITING), ("zz", None)]
        for queue, status in selections:
            expected = sorted(t.id for t in made.values()
                              if queue in (None, t.queue_name) and status in (None, t.status))
            for descending in (False, True):
                seen: list[str] = []
                after = None
                while True:
                    page = await task_queue.page_tasks(queue_name=queue, status=status,
                                                       after=after, descending=descending,
                                                       limit=2)
                    assert len(page) <= 2
                    seen += _ids(page)
                    if len(page) < 2:
                        break
                    after = page[-1].id
                want = expected[::-1] if descending else expected
                assert seen == want, (queue, status, descending)

    @pytest.mark.anyio
    async def test_page_tasks_returns_whole_tasks(self, task_queue: Any) -> None:
        made = await population(task_queue)
        [running] = await task_queue.page_tasks(status=S.RUNNING)
        assert running.id == made["a_running"].id and running.worker_id == "kit"
        assert running.attempts == 1 and running.tags == ["nightly"]
        assert await task_queue.page_tasks(limit=0) == []

    @pytest.mark.anyio
    async def test_task_counts_by_queue_and_status(self, task_queue: Any) -> None:
        assert await task_queue.task_counts() == {}
        await population(task_queue)
        assert await task_queue.task_counts() == {
            "qa": {S.PENDING: 2, S.RUNNING: 1, S.COMPLETED: 1, S.FAILED: 1},
            "qb": {S.PENDING: 1, S.COMPLETED: 2},
        }

    @pytest.mark.anyio
    async def test_find_tasks_filters_by_name_tag_and_queue(self, task_queue: Any) -> None:
        made = await population(task_queue)

        async def found(**filters: Any) -> list[str]:
            return _ids((await task_queue.find_tasks(TaskFilter(**filters))).tasks)

        assert await found(tag="nightly") == _ids(made[k] for k in
                                                  ("a_done", "a_running", "a_pending"))
        assert await found(name="report") == _ids([made["a_done"], made["b_done1"]])
        assert await found(name="rep*", queue_name="qb") == [made["b_done1"].id]
        assert len(await found(name="*:noop")) == len(made)  # the function matches too
        assert await found(tag="nightly", status=S.PENDING) == [made["a_pending"].id]
        assert await found(name="nothing-like-this") == []

    @pytest.mark.anyio
    async def test_find_tasks_filters_by_enqueue_time(self, task_queue: Any) -> None:
        now = moment()
        old, mid, new = (make_task(task_queue, now=now - timedelta(hours=h)) for h in (2, 1, 0))
        await add(task_queue, old, mid, new)
        since = await task_queue.find_tasks(TaskFilter(since=now - timedelta(minutes=90)))
        assert _ids(since.tasks) == [mid.id, new.id]
        until = await task_queue.find_tasks(TaskFilter(until=now - timedelta(minutes=30)),
                                            newest_first=True)
        assert _ids(until.tasks) == [mid.id, old.id]

    @pytest.mark.anyio
    async def test_find_tasks_pages_and_bounds_its_scan(self, task_queue: Any) -> None:
        tasks = [make_task(task_queue, tags=["rare"] if i == 24 else []) for i in range(25)]
        await add(task_queue, *tasks)
        first = await task_queue.find_tasks(limit=10)
        assert _ids(first.tasks) == _ids(tasks[:10]) and first.next_after == tasks[9].id
        rest = await task_queue.find_tasks(limit=20, after=first.next_after)
        assert _ids(rest.tasks) == _ids(tasks[10:]) and rest.next_after is None
        # A filter no index serves looks at scan_limit tasks, then says where to go on.
        short = await task_queue.find_tasks(TaskFilter(tag="rare"), limit=5, scan_limit=10)
        assert short.tasks == [] and short.next_after == tasks[9].id and short.examined == 10
        hits, after = [], short.next_after
        while after is not None:
            page = await task_queue.find_tasks(TaskFilter(tag="rare"), after=after, limit=5,
                                               scan_limit=10)
            hits += page.tasks
            after = page.next_after
        assert _ids(hits) == [tasks[24].id]

    @pytest.mark.anyio
    async def test_oldest_waiting_counts_from_when_a_task_came_due(self,
                                                                   task_queue: Any) -> None:
        now = moment()
        late = make_task(task_queue, now=now - timedelta(seconds=90), queue_name="qw")
        future = make_task(task_queue, now=now - timedelta(seconds=300), delay=3600,
                           queue_name="qw")
        recent = make_task(task_queue, now=now - timedelta(seconds=10), queue_name="qw")
        await add(task_queue, future, late, recent)
        assert await task_queue.oldest_waiting("qw", now) == pytest.approx(90, abs=0.01)
        assert await task_queue.oldest_waiting("empty", now) is None

    @pytest.mark.anyio
    async def test_queue_stats_gives_depth_wait_and_throughput(self, task_queue: Any) -> None:
        await population(task_queue)
        now = moment()
        minute = now.replace(second=0, microsecond=0)
        recent = [MinuteCount(minute=minute, queue="qa", completed=5, failed=1),
                  MinuteCount(minute=minute - timedelta(minutes=3), queue="qa", completed=7),
                  MinuteCount(minute=minute - timedelta(minutes=10), queue="qb", completed=2)]
        await task_queue.put_worker(worker_info("w1", queues=["qa", "qc"], recent=recent))
        stats = {s.queue: s for s in await task_queue.queue_stats(now)}
        assert set(stats) >= {"qa", "qb", "qc", "default"}
        qa = stats["qa"]
        assert qa.counts == {S.PENDING: 2, S.RUNNING: 1, S.COMPLETED: 1, S.FAILED: 1}
        assert list(qa.counts) == [S.PENDING, S.RUNNING, S.COMPLETED, S.FAILED]
        assert qa.oldest_waiting is not None and 0 <= qa.oldest_waiting < 60
        assert qa.completed == {"1m": 5, "5m": 12, "15m": 12}
        assert qa.failed == {"1m": 1, "5m": 1, "15m": 1}
        assert stats["qb"].completed == {"1m": 0, "5m": 0, "15m": 2}
        assert stats["qc"].counts == {} and stats["qc"].oldest_waiting is None
