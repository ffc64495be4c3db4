"""A third-party plugin works with no change to the core, and the conformance kit runs for it.

Most tests build a throwaway distribution ``omniq-acme`` from a pyproject with hatchling and
installs it with pip into a temporary ``--target`` directory (put on ``sys.path``, where
``importlib.metadata`` finds its entry point), rather than into the shared virtualenv, so
nothing outlives the test and concurrent runs do not see each other's plugin. The last one
builds the plugin of ``docs/user_guide/writing_a_plugin.qmd`` from that page's code blocks,
installs it and this checkout's core into a fresh virtual environment and runs the kit there
exactly as the page says.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import omniq
import omniq.testing
import pytest
from omniq import plugins
from test_docs_examples import page_blocks

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


# -- the conformance kit, run by a stranger ------------------------------------------------------
PLUGIN_PAGE = REPO / "docs" / "user_guide" / "writing_a_plugin.qmd"


def plugin_page_files() -> dict[str, str]:
    """The files of omniq-acme as docs/user_guide/writing_a_plugin.qmd shows them."""
    files = {b.filename: b.code for b in page_blocks(PLUGIN_PAGE) if b.filename}
    assert {"pyproject.toml", "tests/test_conformance_acme.py"} <= set(files), (
        f"{PLUGIN_PAGE.name} lost its pyproject.toml or its test module")
    return files


#: The test tools the kit needs, installed at the versions requirements-dev.txt pins.
KIT_TOOLS = ("pytest", "anyio", "hypothesis", "pytest-timeout")


def kit_example() -> str:
    """The example test module of the kit's docstring, as a file's text."""
    doc = omniq.testing.__doc__ or ""
    _, found, after = doc.partition("Example (``tests/test_conformance_acme.py``")
    assert found, "the omniq.testing docstring lost its example"
    lines = []
    for line in after.split("::\n\n", 1)[1].splitlines():
        if line and not line.startswith("    "):
            break
        lines.append(line)
    return textwrap.dedent("\n".join(lines)).strip() + "\n"


def pinned_tools() -> list[str]:
    pins = {}
    for line in (REPO / "requirements-dev.txt").read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        name = re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0]
        if name in KIT_TOOLS:
            pins[name] = requirement
    assert sorted(pins) == sorted(KIT_TOOLS), f"requirements-dev.txt should pin {KIT_TOOLS}"
    return list(pins.values())


def files_under(*directories: Path) -> list[str]:
    return sorted(str(path) for d in directories for path in d.rglob("*"))


def test_plugin_page_shows_the_kit_example_verbatim() -> None:
    assert plugin_page_files()["tests/test_conformance_acme.py"] == kit_example()


@pytest.mark.slow
@pytest.mark.timeout(600)  # a venv, an install and the whole kit
def test_kit_runs_as_documented_for_a_plugin_in_a_fresh_environment(tmp_path: Path) -> None:
    # The plugin exactly as the documentation's page builds it, file by file.
    project = tmp_path / "omniq-acme"
    for name, text in plugin_page_files().items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-e", str(REPO / "omniq-core"), str(project), *pinned_tools()],
        check=True, timeout=300,
    )
    # Home, config, caches and temporary files of the run all start empty: afterwards only the
    # temporary directory may hold anything.
    home, xdg, tmp = tmp_path / "home", tmp_path / "xdg", tmp_path / "tmp"
    xdg_dirs = {f"XDG_{kind}_HOME": xdg / kind.lower() for kind in ("CONFIG", "DATA", "CACHE",
                                                                     "STATE")}
    for directory in (home, tmp, *xdg_dirs.values()):
        directory.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OMNIQ_", "PYTHON", "PYTEST_")) and k != "VIRTUAL_ENV"}
    env.update({"HOME": str(home), "TMPDIR": str(tmp),
                **{k: str(v) for k, v in xdg_dirs.items()}})
    done = subprocess.run([str(python), "-m", "pytest", "-q"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    summary = output.strip().splitlines()[-1]
    # The page says how many tests pass and skip: the numbers a plugin author compares with.
    page = re.sub(r"\s+", " ", PLUGIN_PAGE.read_text(encoding="utf-8"))
    claimed = re.search(r"the kit passes (\d+) tests and skips (\d+)", page)
    assert claimed is not None, "the page no longer says what the kit passes"
    assert f"{claimed[1]} passed, {claimed[2]} skipped" in summary, output
    assert files_under(home, *xdg_dirs.values()) == [], "the kit wrote outside temporary dirs"
