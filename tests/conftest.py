"""Shared fixtures: the anyio backend, isolated keys and settings, and the real servers.

Tests that need PostgreSQL, Redis or NATS use the ``postgres_dsn``, ``redis_url`` and
``nats_url`` fixtures. Outside CI an unreachable server skips the test with the command that
starts it; in CI (``CI`` set) it fails, because ``.ci/run`` starts every server first.
"""

from __future__ import annotations

import os
import socket
import sys
import uuid
from collections.abc import Iterator

import pytest

SERVERS = {
    "postgres": ("127.0.0.1", 5432,
                 "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"),
    "redis": ("127.0.0.1", 6379,
              'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" '
              "--appendonly no"),
    "nats": ("127.0.0.1", 4222,
             "nats-server -a 127.0.0.1 -p 4222 -js -sd /tmp/nats-js &"),
}


def require_server(name: str) -> None:
    host, port, start = SERVERS[name]
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError as exc:
        message = f"{name} is not reachable on {host}:{port} ({exc}); start it with: {start}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys are generated under a temporary config dir, never the real home; a fixed secret
    lets worker subprocesses started by tests verify what the test signed."""
    config = tmp_path_factory.getbasetemp() / "xdg-config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.setenv("OMNIQ_SECRET_KEY", "omniq-test-secret")


@pytest.fixture
def project_name() -> str:
    """A project name no other test uses, so stores shared across tests stay isolated."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def postgres_dsn() -> str:
    require_server("postgres")
    return "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def redis_url() -> str:
    require_server("redis")
    return "redis://127.0.0.1:6379/0"


@pytest.fixture
def nats_url() -> str:
    require_server("nats")
    return "nats://127.0.0.1:4222"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The figures the chaos scenarios recorded (tests/chaos/engines.py), if any ran here."""
    engines = sys.modules.get("engines")
    if engines is not None and getattr(engines, "FIGURES", None):
        form = "full" if engines.FULL else "quick"
        terminalreporter.section(f"chaos figures ({form} form)")
        for line in engines.FIGURES:
            terminalreporter.write_line(line)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run test_gevent.py last: gevent's monkey-patching is process-wide and cannot be undone,
    so no other test may run after it patched the process."""
    items.sort(key=lambda item: item.path.name == "test_gevent.py")


@pytest.fixture
def without_omniq_nats(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Hide omniq-nats (installed with the test tools) to see what a user without it meets."""
    from omniq import plugins
    from omniq.plugins import _registry

    original = _registry._entry_points
    monkeypatch.setattr(_registry, "_entry_points", lambda: [
        ep for ep in original() if not ep.value.startswith("omniq_nats.")])
    monkeypatch.delitem(sys.modules, "omniq.backends.nats", raising=False)
    plugins.reset()
    yield
    plugins.reset()
