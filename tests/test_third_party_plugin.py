"""A third-party plugin works with no change to the core.

The test builds a throwaway distribution ``omniq-acme`` from a pyproject with hatchling and
installs it with pip into a temporary ``--target`` directory (put on ``sys.path``, where
``importlib.metadata`` finds its entry point), rather than into the shared virtualenv, so
nothing outlives the test and concurrent runs do not see each other's plugin.
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import omniq
import pytest
from omniq import plugins

REPO = Path(__file__).resolve().parents[1]

ACME_FILES = {
    "pyproject.toml": """
        [build-system]
        requires = ["hatchling>=1.25"]
        build-backend = "hatchling.build"

        [project]
        name = "omniq-acme"
        version = "0.1.0"
        requires-python = ">=3.11"
        dependencies = ["omniq>=2026.12.0,<2026.13"]

        [project.entry-points.omniq]
        acme = "omniq_acme.plugin"

        [tool.hatch.build.targets.wheel]
        packages = ["src/omniq_acme"]
    """,
    "src/omniq_acme/__init__.py": "",
    # The hookimpl module imports nothing but omniq, like every plugin's.
    "src/omniq_acme/plugin.py": """
        from omniq.plugins import hookimpl


        @hookimpl
        def omniq_register_task_queues(register):
            register(
                "acme",
                "omniq_acme.queue:AsyncAcmeTaskQueue",
                schemes=["acme"],
                exports=["AcmeTaskQueue"],
            )
            register("acme_memory", "omniq_acme.memory_queue:AsyncAcmeMemoryTaskQueue")
    """,
    "src/omniq_acme/queue.py": """
        class AsyncAcmeTaskQueue:
            '''A queue with its own engine.'''


        class AcmeTaskQueue:
            '''Its sync twin.'''
    """,
    # A queue built on the core's memory queue: the core import happens on first use only.
    "src/omniq_acme/memory_queue.py": """
        from omniq.queue.memory import AsyncMemoryTaskQueue


        class AsyncAcmeMemoryTaskQueue(AsyncMemoryTaskQueue):
            '''The core's memory queue under a third-party name.'''
    """,
}


@pytest.fixture(scope="module")
def acme_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Build and install omniq-acme into a fresh directory; removed afterwards."""
    source = tmp_path_factory.mktemp("omniq-acme-src")
    for name, text in ACME_FILES.items():
        path = source / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    site = tmp_path_factory.mktemp("omniq-acme-site")
    # --no-build-isolation and --no-index: hatchling comes from this venv, nothing is fetched.
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
            "--no-build-isolation", "--no-index", "--no-cache-dir",
            "--disable-pip-version-check", "--target", str(site), str(source),
        ],
        check=True,
        timeout=120,
    )  # fmt: skip
    yield site
    shutil.rmtree(site, ignore_errors=True)
    shutil.rmtree(source, ignore_errors=True)


@pytest.fixture
def acme(acme_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(acme_site))
    plugins.reset()
    yield
    plugins.reset()
    for name in list(sys.modules):
        if name.partition(".")[0] == "omniq_acme":
            del sys.modules[name]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_imported_omniq_is_this_repository() -> None:
    # The unrelated `omniq` 4.x on the public index must never stand in for ours.
    assert Path(omniq.__file__).resolve().is_relative_to(REPO / "omniq-core" / "src")
    assert importlib.metadata.version("omniq").startswith("2026.")


@pytest.mark.usefixtures("acme")
def test_installed_plugin_is_listed_with_its_distribution() -> None:
    [acme] = [t for t in plugins.available() if t.name == "acme"]
    assert acme.kind == "task_queue"
    assert acme.target == "omniq_acme.queue:AsyncAcmeTaskQueue"
    assert acme.distribution == "omniq-acme" and acme.version == "0.1.0"
    assert acme.schemes == ("acme",)
    # Listing the plugins imported the hookimpl module and nothing else of omniq-acme.
    assert "omniq_acme.plugin" in sys.modules
    assert "omniq_acme.queue" not in sys.modules
    assert "omniq_acme.memory_queue" not in sys.modules


@pytest.mark.usefixtures("acme")
def test_core_resolves_the_plugin_by_name_url_and_export() -> None:
    cls = plugins.resolve("task_queue", "acme")
    assert (cls.__module__, cls.__name__) == ("omniq_acme.queue", "AsyncAcmeTaskQueue")
    assert plugins.resolve("task_queue", "ACME") is cls
    assert plugins.resolve_url("task_queue", "acme://broker:9/0") is cls
    assert plugins.find_export("AcmeTaskQueue").__module__ == "omniq_acme.queue"


def test_plugin_is_gone_without_its_distribution() -> None:
    plugins.reset()
    assert "acme" not in {t.name for t in plugins.available()}


@pytest.mark.anyio
@pytest.mark.usefixtures("acme")
async def test_plugin_queue_built_on_the_memory_queue_works() -> None:
    from omniq.queue.memory import AsyncMemoryTaskQueue

    cls = plugins.resolve("task_queue", "acme_memory")
    assert issubclass(cls, AsyncMemoryTaskQueue)
    async with cls(project_name="acme", secret_key="acme-test-key") as queue:
        task_id = await queue.enqueue(json.dumps, {"a": 1})
        task = await queue.get_task(task_id)
    assert task is not None and task.id == task_id
