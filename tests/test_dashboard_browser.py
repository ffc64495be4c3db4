"""The dashboard in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by selenium) against a dashboard served by uvicorn over real sqlite,
redis and postgres backends, with a worker running. Each page loads; pausing a schedule makes
it stop firing; requeueing a dead letter makes it run. Screenshots of every page are written
to ``$OMNIQ_ARTIFACTS/<backend>/`` (or ``screenshots/`` under pytest's temporary directory).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from dashboard_support import BACKENDS, FAST, drop_schema, options_for
from omniq import OmniQ, TaskFailedError
from omniq.models import ScheduleStatus
from omniq.testing import _tasks
from omniq_dashboard import create_app
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.browser
SCHEDULE_INTERVAL = 0.3  # seconds between fires of the schedule the test pauses


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """One headless Chromium for the module, through the system's chromedriver."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        message = ("headless Chromium needs Debian's chromium and chromium-driver: "
                   "apt-get install -y chromium chromium-driver")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1200,760", "--hide-scrollbars"):
        options.add_argument(argument)
    session = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    try:
        yield session
    finally:
        session.quit()


@pytest.fixture
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = os.environ.get("OMNIQ_ARTIFACTS")
    return Path(root) if root else tmp_path_factory.getbasetemp() / "screenshots"


@contextlib.contextmanager
def served(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port, in a thread; yields its URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, name="dashboard-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


def settings_for(backend: str, project_name: str, options: dict[str, str]) -> dict[str, Any]:
    """The config dict the dashboard builds its own client from (and closes on shutdown)."""
    return {"project_name": project_name,
            "task_queue": {"type": backend, "config": options},
            "event_store": {"type": backend}}


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_page_pause_a_schedule_and_requeue_a_dead_letter(
        backend: str, browser: WebDriver, artefacts: Path, project_name: str,
        request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIQ_WORKER_HEARTBEAT", "0.2")  # the worker's counts, for the charts
    options = options_for(backend, request, tmp_path)
    shots = artefacts / backend
    shots.mkdir(parents=True, exist_ok=True)
    calls = tmp_path / "calls"  # the dead letter fails its first call only

    def shoot(name: str) -> None:
        assert browser.save_screenshot(str(shots / f"{name}.png"))

    def page(base: str, path: str, title: str) -> None:
        browser.get(base + path)
        assert browser.find_element(By.TAG_NAME, "h1").text.startswith(title), browser.title
        assert project_name in browser.find_element(By.TAG_NAME, "header").text

    try:
        with OmniQ(project_name=project_name, backend_type=backend, event_store=backend,
                   **options) as oq:
            oq.start_worker(worker_type="async", **FAST)
            done = oq.enqueue(_tasks.add, 20, 22, name="the answer")
            dead = oq.enqueue(_tasks.flaky, str(calls), 1, "recovered", name="fails once")
            with pytest.raises(TaskFailedError):
                oq.get_result(dead, timeout=10)
            oq.enqueue(_tasks.add, 1, 1, run_in=3600, name="due in an hour")
            schedule = oq.schedule(_tasks.noop, interval=SCHEDULE_INTERVAL, name="heartbeat")
            app = create_app(settings_for(backend, project_name, options), actions=True,
                             sample_interval=0.5)
            with served(app) as base:
                # Some traffic for the charts while the pages load.
                for task_id in oq.enqueue_many(_tasks.add, [(i, i) for i in range(100)]):
                    oq.get_result(task_id, timeout=10)
                assert oq.get_result(done, timeout=10) == 42

                page(base, "/", "Queues")
                shoot("queues")
                page(base, "/tasks", "Tasks")
                assert "50 tasks shown, newest first" in browser.page_source
                browser.find_element(By.NAME, "name").send_keys("the answer")
                browser.find_element(By.XPATH, "//button[text()='Filter']").click()
                WebDriverWait(browser, 10).until(lambda b: "1 task shown" in b.page_source)
                assert done in browser.page_source
                page(base, "/tasks", "Tasks")
                shoot("tasks")
                page(base, f"/tasks/{dead}", "Task")
                assert "RuntimeError: flaky failure 1 of 1" in browser.find_element(
                    By.CLASS_NAME, "traceback").text
                shoot("task-failed")
                page(base, "/workers", "Workers")
                shoot("workers")

                # Pause: the schedule stops firing.
                wait_until(lambda: oq.get_schedule(schedule).run_count >= 2, "two fires")
                page(base, "/schedules", "Schedules")
                row = browser.find_element(By.ID, f"schedule-{schedule}")
                row.find_element(By.XPATH, ".//button[text()='Pause']").click()
                WebDriverWait(browser, 10).until(
                    lambda b: "Schedule paused." in b.page_source)
                row = browser.find_element(By.ID, f"schedule-{schedule}")
                assert row.find_element(By.CLASS_NAME, "status").text == "paused"
                assert oq.get_schedule(schedule).status == ScheduleStatus.PAUSED
                shoot("schedules")
                runs = oq.get_schedule(schedule).run_count
                time.sleep(4 * SCHEDULE_INTERVAL)
                assert oq.get_schedule(schedule).run_count == runs, "a paused schedule fired"

                # Requeue: the dead letter runs again, and succeeds this time.
                page(base, "/dead-letters", "Dead letters")
                shoot("dead-letters")
                row = browser.find_element(By.XPATH, f"//tr[.//a[text()='{dead}']]")
                row.find_element(By.XPATH, ".//button[text()='Requeue']").click()
                WebDriverWait(browser, 10).until(lambda b: "Task requeued." in b.page_source)
                assert oq.get_result(dead, timeout=10) == "recovered"


                def timeline() -> str:  # events are written in batches: look until it is in
                    page(base, f"/tasks/{dead}", "Task")
                    return str(browser.find_element(By.CLASS_NAME, "timeline").text)

                wait_until(lambda: "COMPLETE" in timeline(), "the COMPLETE event")
                assert "REQUEUED" in timeline()
                assert browser.find_element(By.CSS_SELECTOR, "h1 .status").text == "completed"
                shoot("task")

                wait_until(lambda: len(app.state.dashboard.sampler.samples) >= 3,
                           "three samples")
                page(base, "/charts", "Throughput")
                assert len(browser.find_elements(By.CSS_SELECTOR, "svg polyline")) >= 2
                shoot("charts")
            oq.stop_worker()
    finally:
        if backend == "postgres":
            asyncio.run(drop_schema(options["url"], project_name))
    assert sorted(p.name for p in shots.iterdir()) == sorted(
        f"{name}.png" for name in ("queues", "tasks", "task-failed", "workers", "schedules",
                                   "dead-letters", "task", "charts"))
