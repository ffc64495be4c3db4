"""The dashboard app (omniq-dashboard) over HTTP, in this test's event loop, against real
sqlite, redis and postgres backends: every page, pagination and filters, read-only unless
actions are allowed, the form token, no secret on any page, /metrics, charts from samples,
mounting under a prefix, a blocking OmniQ, bad input."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest
from dashboard_support import BACKENDS, FAST, client_on, populate
from omniq import AsyncOmniQ, OmniQ
from omniq.models import ScheduleStatus, TaskStatus
from omniq.testing import _tasks
from omniq_dashboard import create_app
from omniq_dashboard.charts import COLOURS, line_chart
from starlette.applications import Starlette
from starlette.routing import Mount

pytestmark = pytest.mark.anyio
PAGES = ["/", "/tasks", "/schedules", "/dead-letters", "/workers", "/charts"]


@pytest.fixture(params=BACKENDS)
async def oq(request: pytest.FixtureRequest, project_name: str,
             tmp_path: Path) -> AsyncIterator[AsyncOmniQ]:
    async with client_on(request.param, project_name, request, tmp_path) as client:
        yield client


@pytest.fixture
async def browse() -> AsyncIterator[object]:
    """``browse(app)``: an HTTP client talking to ``app`` in this loop; its sampler is
    stopped afterwards."""
    apps: list[Starlette] = []

    def open_app(app: Starlette) -> httpx.AsyncClient:
        apps.append(app)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver")

    yield open_app
    for app in apps:
        await app.state.dashboard.shutdown()


def token_of(html: str) -> str:
    match = re.search(r'name="token" value="([^"]+)"', html)
    assert match, "no action form on the page"
    return match.group(1)


async def test_every_page_shows_the_project(oq: AsyncOmniQ, browse: object) -> None:
    async with browse(create_app(oq)) as http:
        # Nothing stored yet: most often a wrong URL or project, which the overview says.
        assert "Nothing is recorded for project" in (await http.get("/")).text
    ids = await populate(oq)
    async with browse(create_app(oq)) as http:
        pages = {path: await http.get(path) for path in PAGES}
        assert "Nothing is recorded" not in pages["/"].text
        for path, response in pages.items():
            assert response.status_code == 200, (path, response.text[:500])
            assert oq.project_name in response.text
        queues = pages["/"].text
        # Depth per status: one completed, one dead letter, one pending (due in an hour).
        assert re.search(r'status=completed">1<', queues)
        assert re.search(r'dead-letters\?queue=default">1<', queues)
        assert re.search(r'status=pending">1<', queues)
        assert ids["done"] in pages["/tasks"].text and ids["later"] in pages["/tasks"].text
        assert "card declined" in pages["/dead-letters"].text
        assert ids["done"] not in pages["/dead-letters"].text
        assert "hourly" in pages["/schedules"].text and "every 3600" in pages["/schedules"].text

        dead = (await http.get(f"/tasks/{ids['dead']}")).text
        assert "Traceback (most recent call last)" in dead and "ValueError" in dead
        for event in ("ENQUEUED", "EXECUTING", "ERROR", "DEAD_LETTER"):
            assert event in dead, event
        assert "omniq.testing._tasks:fail" in dead
        done = (await http.get(f"/tasks/{ids['done']}")).text
        assert "COMPLETE" in done and "the answer" in done and "ran 0." in done
        missing = await http.get("/tasks/no-such-task")
        assert missing.status_code == 404
        assert "no task 'no-such-task'" in html.unescape(missing.text)


async def test_read_only_unless_actions_are_allowed(oq: AsyncOmniQ, browse: object) -> None:
    ids = await populate(oq)
    async with browse(create_app(oq)) as http:
        for path in ("/schedules", "/dead-letters", f"/tasks/{ids['dead']}"):
            html = (await http.get(path)).text
            assert "<form method=\"post\"" not in html and "read-only" in html
        refused = await http.post(f"/schedules/{ids['schedule']}/pause", data={"token": "x"})
        assert refused.status_code == 403 and "--allow-actions" in refused.text
        refused = await http.post(f"/dead-letters/{ids['dead']}/requeue", data={"token": "x"})
        assert refused.status_code == 403
    assert (await oq.get_schedule(ids["schedule"])).status == ScheduleStatus.ACTIVE
    assert (await oq.get_task(ids["dead"])).status == TaskStatus.FAILED


async def test_actions_pause_resume_and_requeue(oq: AsyncOmniQ, browse: object) -> None:
    ids = await populate(oq)
    async with browse(create_app(oq, actions=True)) as http:
        token = token_of((await http.get("/schedules")).text)
        forged = await http.post(f"/schedules/{ids['schedule']}/pause",
                                 data={"token": "forged"})
        assert forged.status_code == 403 and "token" in forged.text
        paused = await http.post(f"/schedules/{ids['schedule']}/pause", data={"token": token},
                                 follow_redirects=True)
        assert paused.status_code == 200 and "Schedule paused." in paused.text
        assert (await oq.get_schedule(ids["schedule"])).status == ScheduleStatus.PAUSED
        assert "Resume" in paused.text
        resumed = await http.post(f"/schedules/{ids['schedule']}/resume",
                                  data={"token": token}, follow_redirects=True)
        assert "Schedule resumed." in resumed.text
        assert (await oq.get_schedule(ids["schedule"])).status == ScheduleStatus.ACTIVE

        requeued = await http.post(f"/dead-letters/{ids['dead']}/requeue",
                                   data={"token": token}, follow_redirects=True)
        assert "Task requeued." in requeued.text
        assert (await oq.get_task(ids["dead"])).status == TaskStatus.PENDING
        again = await http.post(f"/dead-letters/{ids['dead']}/requeue", data={"token": token},
                                follow_redirects=True)
        assert "Nothing changed" in again.text

        # A page shown before someone else deleted what it offers to act on: said so, not
        # reported as the store failing.
        await oq.remove_schedule(ids["schedule"])
        for path, page in ((f"/schedules/{ids['schedule']}/resume", "/schedules"),
                           ("/dead-letters/no-such-task/requeue", "/dead-letters")):
            gone = await http.post(path, data={"token": token}, follow_redirects=True)
            assert gone.status_code == 200 and gone.url.path == page, path
            assert "it no longer exists" in gone.text, path


async def test_task_lists_are_paged_newest_first_and_filtered(oq: AsyncOmniQ,
                                                               browse: object) -> None:
    ids = await oq.enqueue_many(_tasks.add, [(i, i) for i in range(120)])
    vip = await oq.enqueue(_tasks.noop, tags=["vip"], name="special <script>alert(1)</script>")

    def next_link(page: str) -> str | None:
        found = re.search(r'rel="next" href="([^"]+)"', page)
        return html.unescape(found.group(1)) if found else None

    async with browse(create_app(oq)) as http:
        first = (await http.get("/tasks")).text
        assert "50 tasks shown, newest first" in first
        # What tasks carry is shown as text, never as markup.
        assert "<script>alert" not in first and "&lt;script&gt;alert(1)" in first
        assert vip in first and ids[119] in first and ids[71] in first and ids[70] not in first
        assert 'rel="first"' not in first
        second = (await http.get(next_link(first))).text
        assert ids[70] in second and ids[21] in second and ids[20] not in second
        assert vip not in second and 'rel="first" href="/tasks?"' in second
        third = (await http.get(next_link(second))).text
        assert ids[20] in third and ids[0] in third and next_link(third) is None

        pending = (await http.get("/tasks?status=pending&queue=default")).text
        assert next_link(pending).startswith("/tasks?queue=default&status=pending&after=")
        for query in ("tag=vip", "name=*:noop", "name=spec*"):
            page = (await http.get(f"/tasks?{query}")).text
            assert vip in page and ids[119] not in page, query
        assert "No tasks here." in (await http.get("/tasks?since=2999-01-01T00:00")).text
        assert ids[119] in (await http.get("/tasks?until=2999-01-01T00:00&status=pending")).text
        assert "No tasks here." in (await http.get("/tasks?status=failed")).text
        bad = await http.get("/tasks?status=bogus")
        assert bad.status_code == 400 and "unknown status 'bogus'" in html.unescape(bad.text)
        bad = await http.get("/tasks?since=yesterday")
        assert bad.status_code == 400 and "an age such as 90s, 15m, 2h, 7d" in bad.text
        assert ids[119] in (await http.get("/tasks?since=1h")).text  # an age, as the CLI takes
        assert "No tasks here." in (await http.get("/tasks?until=1h")).text
        bad_queue = await http.get("/tasks?queue=no%20spaces")
        assert bad_queue.status_code == 400 and "queue" in bad_queue.text


async def test_metrics_and_charts(oq: AsyncOmniQ, browse: object,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIQ_WORKER_HEARTBEAT", "0.1")  # the workers' counts, refreshed
    app = create_app(oq, sample_interval=0.2)
    async with browse(app) as http:
        assert "collecting: a point every 0.2 s" in (await http.get("/charts")).text
        sampler = app.state.dashboard.sampler

        def drawn() -> bool:  # two points of each chart: rates, and run times from events
            points = sampler.points()
            return len(points) >= 2 and sum(p.completed_per_s for p in points) > 0 and \
                len([p for p in points if p.run_p50 is not None]) >= 2

        await oq.start_worker(worker_type="async", **FAST)
        try:
            with anyio.fail_after(30):
                while not drawn():  # rounds of tasks, each in its own samples
                    ids = await oq.enqueue_many(_tasks.add, [(i, i) for i in range(20)])
                    for task_id in ids:
                        await oq.get_result(task_id, timeout=10)
                    await asyncio.sleep(0.5)
        finally:
            await oq.stop_worker()
        charts = (await http.get("/charts")).text
        throughput, run_time = charts.split('aria-label="Run time"')
        for chart in (throughput, run_time):  # completed, failed; p50, p95: lines, or dots
            drawn = re.findall(r'<(?:polyline|circle) (?:fill="none" )?\w+="(#\w+)"', chart)
            assert set(drawn) == set(COLOURS[:2]), chart
        assert 'aria-label="Throughput"' in charts and 'aria-label="Run time"' in charts
        metrics = await http.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        assert 'omniq_queue_depth{queue="default",status="pending"} 0.0' in metrics.text
        assert 'omniq_queue_depth{queue="default",status="failed"} 0.0' in metrics.text


async def test_no_secret_on_any_page(postgres_dsn: str, project_name: str,
                                     request: pytest.FixtureRequest, tmp_path: Path,
                                     browse: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIQ_SECRET_KEY", "do-not-show-this-key")
    # PostgreSQL trusts loopback here, so the password is accepted and never checked.
    url = postgres_dsn.replace("postgres@", "postgres:hunter2-pw@")
    async with client_on("postgres", project_name, request, tmp_path), \
            AsyncOmniQ(project_name=project_name, backend_type="postgres", url=url,
                       event_store="postgres") as oq:
        ids = await populate(oq)
        async with browse(create_app(oq, actions=True)) as http:
            paths = [*PAGES, "/metrics", f"/tasks/{ids['dead']}", f"/tasks/{ids['done']}",
                     "/tasks/missing", "/tasks?status=bogus"]
            bodies = {path: (await http.get(path)).text for path in paths}
    assert "card declined" in bodies[f"/tasks/{ids['dead']}"]
    for path, body in bodies.items():
        assert "hunter2" not in body and "do-not-show-this-key" not in body, path
        assert "20, 22" not in body and "[20,22]" not in body, path  # no task arguments


async def test_mounted_under_a_prefix(oq: AsyncOmniQ, browse: object) -> None:
    ids = await populate(oq)
    dashboard = create_app(oq, actions=True)
    host = Starlette(routes=[Mount("/ops/queue", app=dashboard)])
    host.state.dashboard = dashboard.state.dashboard
    async with browse(host) as http:
        page = (await http.get("/ops/queue/schedules")).text
        assert 'href="/ops/queue/tasks"' in page
        assert 'href="/ops/queue/static/style.css"' in page
        assert f'action="/ops/queue/schedules/{ids["schedule"]}/pause"' in page
        assert (await http.get("/ops/queue/static/style.css")).status_code == 200
        done = await http.post(f"/ops/queue/schedules/{ids['schedule']}/pause",
                               data={"token": token_of(page)})
        assert done.status_code == 303
        assert done.headers["location"].startswith("http://testserver/ops/queue/schedules")


async def test_a_blocking_omniq_and_settings_are_accepted(
        project_name: str, tmp_path: Path, browse: object) -> None:
    with OmniQ(project_name=project_name, backend_type="sqlite", base_dir=str(tmp_path)) as oq:
        task_id = oq.enqueue(_tasks.add, 1, 2)
        async with browse(create_app(oq)) as http:
            assert task_id in (await http.get("/tasks")).text
    url = f"sqlite:///{tmp_path}/from-url.db"
    app = create_app({"project_name": project_name, "task_queue": {"url": url}})
    async with browse(app) as http:
        assert (await http.get("/")).status_code == 200
    with pytest.raises(Exception, match="an AsyncOmniQ or OmniQ, an OmniQConfig or dict"):
        create_app(42)


def test_a_chart_line_breaks_where_nothing_was_measured() -> None:
    # Run times while no task ran are missing: the line stops there rather than bridging the
    # gap, and a lone value between gaps is a dot.
    chart = line_chart("Run time", "seconds", [
        ("p50", [(0, 0.1), (10, 0.2), (20, None), (30, None), (40, 0.3), (50, 0.1),
                 (60, None), (70, 0.2)])], "nothing yet")
    assert chart.count("<polyline") == 2 and chart.count("<circle") == 1
    assert "nothing yet" in line_chart("Run time", "s", [("p50", [(0, 0.1), (10, None)])],
                                       "nothing yet")
