"""The dashboard: a Starlette app over one OmniQ client.

Every page is one bounded set of the client's public reads (counts, a page of a list, one
task's events), so pages stay fast however many tasks are stored. Actions (pause and resume a
schedule, requeue a dead letter) exist only when the app is made with ``actions=True``, and
each form carries a token only this app's pages know, so another site cannot post them from a
browser. Nothing secret is shown: no URL, password or key, no task arguments or results.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from omniq import __version__ as omniq_version
from omniq.clock import parse_moment
from omniq.config import validate_name
from omniq.exceptions import BackendUnavailableError, ConfigError, OmniQError, TaskNotFoundError
from omniq.models import DEAD, TaskStatus
from omniq.observe.metrics import DEPTH_STATUSES, exposition
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from . import filters
from .charts import line_chart
from .sampler import Sampler
from .source import Source, build_client

logger = logging.getLogger("omniq.dashboard")
PAGE_SIZE = 50
#: The statuses shown per queue on the overview (depths, then what finished).
QUEUE_COLUMNS = (*DEPTH_STATUSES, TaskStatus.COMPLETED)
MESSAGES = {
    "paused": "Schedule paused.", "resumed": "Schedule resumed.",
    "requeued": "Task requeued.", "unchanged": "Nothing changed (it had changed already).",
    "gone": "Nothing changed: it no longer exists (deleted since the page was shown).",
}


class Dashboard:
    """The state behind the routes: the source, the sampler, templates, the form token."""

    def __init__(self, source: Source, *, actions: bool, owned: bool,
                 sample_interval: float) -> None:
        self.source = source
        self.actions = actions
        self.owned = owned
        self.token = secrets.token_urlsafe(24)
        self.sampler = Sampler(source, sample_interval)
        self._ready = False
        env = Environment(loader=PackageLoader("omniq_dashboard", "templates"),
                          autoescape=select_autoescape(default=True))
        env.filters.update(when=filters.when, short=filters.short, ago=filters.ago,
                           waited=filters.waited, breakable=filters.breakable)
        self.env = env

    async def ready(self) -> None:
        """Connect and start sampling on first use (a mounted app gets no lifespan events)."""
        if not self._ready:
            await self.source.connect()
            self._ready = True
        self.sampler.start()

    async def shutdown(self) -> None:
        await self.sampler.stop()
        if self.owned and self._ready:
            await self.source.close()
        self._ready = False

    def page(self, request: Request, template: str, status_code: int = 200,
             **context: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(
            request=request, url_for=lambda name, **params: request.url_for(name, **params).path,
            actions=self.actions, token=self.token,
            project=self.source.project_name, backend=self.source.backend,
            version=omniq_version, message=MESSAGES.get(request.query_params.get("done", "")),
            **context)
        return HTMLResponse(html, status_code=status_code)

    async def check_action(self, request: Request) -> None:
        if not self.actions:
            raise HTTPException(403, "this dashboard is read-only: start it with "
                                     "--allow-actions (create_app(..., actions=True)) to act")
        form = await request.form()
        if not secrets.compare_digest(str(form.get("token", "")), self.token):
            raise HTTPException(403, "the form's token does not match this dashboard's: "
                                     "reload the page and try again")


def _status(value: str | None) -> TaskStatus | None:
    if not value:
        return None
    try:
        return TaskStatus(value)
    except ValueError:
        raise HTTPException(400, f"unknown status {value!r}: one of "
                                 f"{', '.join(s.value for s in TaskStatus)}") from None


def _time(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name) or None
    if raw is None:
        return None
    try:
        return parse_moment(raw)
    except ValueError as exc:
        raise HTTPException(400, f"bad {name}: {exc}") from None


#: The filters of the task lists, as query parameters.
FILTERS = ("queue", "status", "name", "tag", "since", "until")


async def _listing(dash: Dashboard, request: Request, status: TaskStatus | None) -> dict[str, Any]:
    """One page of tasks, newest first, with the filters of the request; the page after it
    starts after the id in ``after`` (keyset pagination: as fast deep in the list as at the
    top)."""
    params = request.query_params
    queue = params.get("queue") or None
    if queue is not None:
        validate_name("queue", queue)
    queues = await dash.source.queues()
    page = await dash.source.find_tasks(
        queue_name=queue, status=status, name=params.get("name") or None,
        tag=params.get("tag") or None, since=_time(request, "since"),
        until=_time(request, "until"), after=params.get("after") or None, limit=PAGE_SIZE)
    kept = {k: params[k] for k in FILTERS if params.get(k)}
    if status is not None:
        kept["status"] = status.value
    return {"tasks": page.tasks, "examined": page.examined, "filters": kept,
            "next_query": urlencode({**kept, "after": page.next_after})
            if page.next_after else None,
            "first_query": urlencode(kept) if params.get("after") else None,
            "queues": queues if queue is None or queue in queues else [*queues, queue]}


def create_app(oq_or_settings: Any, actions: bool = False, *, queues: Sequence[str] = (),
               sample_interval: float = 10.0) -> Starlette:
    """The dashboard as an ASGI app, to serve or to mount in a Starlette or FastAPI app.

    Args:
        oq_or_settings: An ``AsyncOmniQ`` or ``OmniQ``, or what builds one: an
            ``OmniQConfig`` or its dict form, a YAML config path, or a task queue URL.
        actions: Allow pausing and resuming schedules and requeueing dead letters; read-only
            otherwise.
        queues: Queue names to show besides the client's own and those workers serve.
        sample_interval: Seconds between the samples behind the rates and charts.
    """
    client, owned = build_client(oq_or_settings)
    dash = Dashboard(Source(client, queues), actions=actions, owned=owned,
                     sample_interval=sample_interval)

    async def overview(request: Request) -> Response:
        await dash.ready()
        stats = await dash.source.queue_stats()
        first = {q: n for n, q in enumerate(dash.source.client.task_queue.queues)}
        stats.sort(key=lambda s: (s.queue == "default", first.get(s.queue, len(first)), s.queue))
        # Nothing at all: most often a mistyped URL or project (a SQLite file is even created).
        empty = not any(any(s.counts.values()) for s in stats) \
            and not await dash.source.workers()
        return dash.page(request, "queues.html", stats=stats, columns=list(QUEUE_COLUMNS),
                         empty=empty)

    async def tasks(request: Request) -> Response:
        await dash.ready()
        listing = await _listing(dash, request, _status(request.query_params.get("status")))
        return dash.page(request, "tasks.html", statuses=[s.value for s in TaskStatus],
                         **listing)

    async def task(request: Request) -> Response:
        await dash.ready()
        task_id = request.path_params["task_id"]
        found = await dash.source.get_task(task_id)
        if found is None:
            raise HTTPException(404, f"no task {task_id!r} in project "
                                     f"{dash.source.project_name!r}")
        events = await dash.source.events(task_id=task_id, limit=200)
        return dash.page(request, "task.html", task=found, events=events,
                         has_events=dash.source.has_events, requeueable=found.status in DEAD)

    async def schedules(request: Request) -> Response:
        await dash.ready()
        return dash.page(request, "schedules.html", schedules=await dash.source.schedules())

    async def schedule_action(request: Request) -> Response:
        await dash.check_action(request)
        schedule_id, verb = request.path_params["schedule_id"], request.path_params["verb"]
        change = {"pause": dash.source.pause_schedule,
                  "resume": dash.source.resume_schedule}.get(verb)
        if change is None:
            raise HTTPException(404, f"no schedule action {verb!r}: pause or resume")
        await dash.ready()
        try:
            done = ("paused" if verb == "pause" else "resumed") \
                if await change(schedule_id) else "unchanged"
        except TaskNotFoundError:  # deleted since the page was shown (a schedule's is one)
            done = "gone"
        return RedirectResponse(f"{request.url_for('schedules')}?done={done}", status_code=303)

    async def dead_letters(request: Request) -> Response:
        await dash.ready()
        listing = await _listing(dash, request, TaskStatus.FAILED)
        return dash.page(request, "dead_letters.html", **listing)

    async def requeue(request: Request) -> Response:
        await dash.check_action(request)
        await dash.ready()
        try:
            done = "requeued" if await dash.source.requeue(request.path_params["task_id"]) \
                else "unchanged"
        except TaskNotFoundError:  # purged since the page was shown
            done = "gone"
        return RedirectResponse(f"{request.url_for('dead_letters')}?done={done}",
                                status_code=303)

    async def workers(request: Request) -> Response:
        await dash.ready()
        return dash.page(request, "workers.html", workers=await dash.source.workers(),
                         now=datetime.now(UTC))

    async def charts(request: Request) -> Response:
        await dash.ready()
        points = dash.sampler.points()
        waiting = f"collecting: a point every {dash.sampler.interval:g} s"
        throughput = line_chart("Throughput", "tasks/s", [
            ("completed", [(p.at, p.completed_per_s) for p in points]),
            ("failed", [(p.at, p.failed_per_s) for p in points])], waiting)
        latency = line_chart("Run time", "seconds", [
            ("p50", [(p.at, p.run_p50) for p in points]),
            ("p95", [(p.at, p.run_p95) for p in points])],
            waiting if dash.source.has_events else
            "run times come from COMPLETE events: configure an event store to see them")
        return dash.page(request, "charts.html", throughput=throughput, latency=latency)

    async def metrics(request: Request) -> Response:
        await dash.ready()
        body = await exposition(dash.source, await dash.source.queues())
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    async def failure(request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            code, detail = exc.status_code, exc.detail
        elif isinstance(exc, ConfigError):  # a bad filter, e.g. an invalid queue name
            code, detail = 400, str(exc)
        elif isinstance(exc, TaskNotFoundError):  # a schedule's too: a stale link
            code, detail = 404, str(exc)
        elif isinstance(exc, BackendUnavailableError):
            code, detail = 503, f"the store did not answer: {exc}"
        else:  # another OmniQError: the store answered with an error
            code, detail = 502, f"the store failed: {exc}"
        return dash.page(request, "error.html", status_code=code, code=code, detail=detail)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:  # served on its own: sample from the start, not from the first page view
            await dash.ready()
        except Exception as exc:  # pages retry, and say what is wrong
            logger.warning("dashboard: cannot reach the store yet: %s", exc)
        yield
        await dash.shutdown()

    static = StaticFiles(packages=[("omniq_dashboard", "static")])
    app = Starlette(routes=[
        Route("/", overview, name="queues"),
        Route("/tasks", tasks, name="tasks"),
        Route("/tasks/{task_id}", task, name="task"),
        Route("/schedules", schedules, name="schedules"),
        Route("/schedules/{schedule_id}/{verb}", schedule_action, methods=["POST"],
              name="schedule_action"),
        Route("/dead-letters", dead_letters, name="dead_letters"),
        Route("/dead-letters/{task_id}/requeue", requeue, methods=["POST"], name="requeue"),
        Route("/workers", workers, name="workers"),
        Route("/charts", charts, name="charts"),
        Route("/metrics", metrics, name="metrics"),
        Mount("/static", static, name="static"),
    ], exception_handlers={HTTPException: failure, OmniQError: failure}, lifespan=lifespan)
    app.state.dashboard = dash
    return app
