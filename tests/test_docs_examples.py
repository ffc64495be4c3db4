"""Every code block of the documentation runs as written, and the output it shows is checked.

The conventions (``docs/contributing.qmd`` explains them to writers), for the pages
``docs/**/*.qmd`` (not the generated ``docs/api/``, nor folders starting with ``_``):

* A fenced ``python`` block runs in a fresh interpreter, in an empty temporary directory.
* ``# -> text`` at the end of a line is output the block shows: the block's standard output,
  line by line, must be exactly the texts of its ``# ->`` comments, in order (``...`` in a
  text matches anything). A block with no ``# ->`` may print anything.
* A block that uses the default backend (names none) runs twice: on ``memory``, as written,
  and with ``OMNIQ_TASK_QUEUE_TYPE=sqlite``.
* A ``yaml`` block is a configuration: ``omniq.config.parse_config`` must accept it.
* HTML comments on the lines right before a block say more:
  ``<!-- not run: reason -->`` (every ``bash``, ``sql`` or ``toml`` block needs one, or
  ``background``), ``<!-- needs: postgres -->`` (or ``redis``, ``nats``: the block runs
  against that real server on 127.0.0.1, the addresses CI's servers have; outside CI an
  unreachable server skips it saying how to start it, in CI it fails; the stores of the
  ``project_name="..."`` it names are deleted before and after),
  ``<!-- background: what it is -->`` before a ``bash`` block (a command that runs while the
  page's later blocks run, such as a worker; stopped with SIGTERM at the end, and it must
  still be running then).
* A block with a file name (````{.python filename="tasks.py"}``) is a file, written into the
  directory, not run. A page with files or background commands runs as one session: its
  blocks in order, in one directory, as a reader following the page would.

The cases run side by side, four at a time, each in its own directory and processes (server
blocks use project names no other page uses), so the module takes about a minute.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml
from conftest import SERVERS as SERVER_ADDRESSES
from conftest import require_server
from omniq.config import parse_config

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
SERVERS = ("postgres", "redis", "nats")
_FENCE = re.compile(
    r"(?P<markers>(?:^<!-- [^\n]*? -->\n)*)^```(?P<info>[\w-]+|\{[^}\n]*\})\n(?P<code>.*?)^```",
    re.M | re.S,
)
_MARKER = re.compile(r"<!-- (not run|needs|background): ([^\n]*?) -->")
_EXPECT = re.compile(r"#\s*->\s?(.*?)\s*$")
_PROJECT = re.compile(r"""project_name\s*=\s*["']([A-Za-z0-9_.-]+)["']""")
# A block naming none of these uses the default backend, which OMNIQ_TASK_QUEUE_TYPE switches.
_NAMES_A_BACKEND = ("backend_type", "task_queue", "backend=", "from_backend", "from_config",
                    "from_env", "url=", "Backend(", "TaskQueue(", "omniq.testing")
_NEEDS_A_REASON = ("bash", "sh", "console", "sql", "toml", "ini", "dockerfile")


class Block(NamedTuple):
    where: str
    lang: str
    filename: str | None
    code: str
    not_run: str | None
    needs: str | None
    background: str | None

    @property
    def runs(self) -> bool:
        return self.not_run is None and self.filename is None and self.lang == "python"


def doc_pages() -> list[Path]:
    pages = []
    for path in sorted(DOCS.rglob("*.qmd")):
        parts = path.relative_to(DOCS).parts
        if parts[0] == "api" or any(p.startswith(("_", ".")) for p in parts):
            continue
        pages.append(path)
    return pages


def page_blocks(page: Path) -> list[Block]:
    text = page.read_text()
    found = []
    for match in _FENCE.finditer(text):
        info = match["info"].strip("{}")
        lang = info.split()[0].lstrip(".") if info else ""
        filename = re.search(r'filename="([^"]+)"', info)
        markers = dict(_MARKER.findall(match["markers"]))
        line = text.count("\n", 0, match.start("code"))
        found.append(Block(f"{page.relative_to(DOCS)}:{line}", lang,
                           filename[1] if filename else None, match["code"],
                           markers.get("not run"), markers.get("needs"),
                           markers.get("background")))
    return found


def blocks() -> list[Block]:
    return [b for page in doc_pages() for b in page_blocks(page)]


def expected_output(code: str) -> list[str] | None:
    """The texts of the block's ``# ->`` comments, or None if it shows no output."""
    texts = [m[1] for line in code.splitlines() if (m := _EXPECT.search(line))]
    return texts or None


def matches(expected: str, actual: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, actual) is not None


class Case(NamedTuple):
    """What one test runs: a block, or a page's blocks as a session, in one variant."""

    id: str
    blocks: list[Block]
    variant: str

    @property
    def runnable(self) -> list[Block]:
        return [b for b in self.blocks if b.runs or b.filename or b.background]

    @property
    def needs(self) -> set[str]:
        return {b.needs for b in self.runnable if b.needs}


def cases() -> list[Case]:
    found = []
    for page in doc_pages():
        blocks_ = page_blocks(page)
        if any(b.filename or b.background for b in blocks_):
            found.append(Case(f"{page.relative_to(DOCS)}[session]", blocks_, "session"))
            continue
        for block in blocks_:
            if block.lang != "python":
                continue
            found.append(Case(block.where, [block], "as written"))
            if block.runs and block.needs is None \
                    and not any(n in block.code for n in _NAMES_A_BACKEND):
                found.append(Case(f"{block.where}[sqlite]", [block], "sqlite"))
    return found


def environment(tmp_path: Path, variant: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIQ_")}
    env.update({"OMNIQ_SECRET_KEY": "docs-examples", "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"})
    if variant == "sqlite":
        env["OMNIQ_TASK_QUEUE_TYPE"] = "sqlite"
    return env


def run_python(block: Block, cwd: Path, env: dict[str, str]) -> None:
    # From a file, as a reader would save and run it: a spawned child (the process_pool
    # worker's) then imports it again, which code run by `python -c` would never show.
    script = cwd / "docs_example.py"
    script.write_text(block.code)
    done = subprocess.run([sys.executable, script.name], cwd=cwd, env=env,
                          timeout=120, capture_output=True, text=True)
    assert done.returncode == 0, f"{block.where} failed:\n{done.stderr[-3000:]}"
    expected = expected_output(block.code)
    if expected is not None:
        lines = done.stdout.splitlines()
        assert len(lines) == len(expected) and all(map(matches, expected, lines)), (
            f"{block.where}: the block's # -> comments show\n" + "\n".join(expected)
            + "\nbut it printed\n" + done.stdout)


@contextmanager
def background(block: Block, cwd: Path, env: dict[str, str]) -> Iterator[None]:
    log = cwd / f"background-{block.where.replace('/', '_')}.log"
    with open(log, "w") as out:
        process = subprocess.Popen(["bash", "-c", block.code], cwd=cwd, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield
        assert process.poll() is None, (
            f"{block.where}: {shlex.quote(block.code.strip())} ended early "
            f"(exit {process.returncode}):\n{log.read_text()[-3000:]}")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def run_case(case: Case, tmp_path: Path) -> None:
    """Run a case's blocks in order in ``tmp_path``; raises AssertionError on a failure."""
    projects = sorted({p for b in case.blocks for p in _PROJECT.findall(b.code)})
    env = environment(tmp_path, case.variant)
    for server in case.needs:
        asyncio.run(drop_projects(server, projects))
    try:
        with ExitStack() as stack:
            for block in case.runnable:
                if block.filename:
                    path = tmp_path / block.filename
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(block.code)
                elif block.background:
                    stack.enter_context(background(block, tmp_path, env))
                else:
                    run_python(block, tmp_path, env)
    finally:
        for server in case.needs:
            asyncio.run(drop_projects(server, projects))


def reachable(server: str) -> bool:
    host, port, _ = SERVER_ADDRESSES[server]
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


CASES = cases()


@pytest.fixture(scope="module")
def started(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future[None]]]:
    """Every selected case, started at once on a few threads: each block is a process of its
    own that mostly waits (on a worker, a sleep, a server), so running them side by side takes
    a fraction of the time one by one would."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        yield {}  # pytest-xdist runs the cases side by side already: each test runs its own
        return
    selected = [item.callspec.params["case"] for item in request.session.items
                if getattr(item, "originalname", None) == "test_docs_block_runs"]
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {}
        for case in selected:
            if case.runnable and all(reachable(s) for s in case.needs if s in SERVERS):
                folder = tmp_path_factory.mktemp(re.sub(r"\W+", "_", case.id)[-60:])
                futures[case.id] = pool.submit(run_case, case, folder)
        yield futures
        for future in futures.values():
            future.cancel()


@pytest.mark.parametrize("case", [
    pytest.param(c, id=c.id, marks=[getattr(pytest.mark, s) for s in sorted(c.needs)
                                    if s in SERVERS]) for c in CASES])
def test_docs_block_runs(case: Case, started: dict[str, Future[None]], tmp_path: Path) -> None:
    if not case.runnable:
        pytest.skip(f"{case.id}: not run: {case.blocks[0].not_run}")
    for server in case.needs:
        assert server in SERVERS, f"<!-- needs: {server} -->: not one of {SERVERS}"
        require_server(server)
    if case.id in started:
        started[case.id].result()
    else:
        run_case(case, tmp_path)


async def drop_projects(server: str, projects: list[str]) -> None:
    """Delete what the projects keep on a shared server (a block's leftovers)."""
    if server == "postgres":
        import asyncpg

        conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
        try:
            for project in projects:
                await conn.execute(f'DROP SCHEMA IF EXISTS "omniq_{project}" CASCADE')
        finally:
            await conn.close()
    elif server == "redis":
        import redis.asyncio

        client = redis.asyncio.Redis.from_url("redis://127.0.0.1:6379/0")
        try:
            for project in projects:
                keys = [k async for k in client.scan_iter(match=f"omniq:{{{project}}}:*")]
                if keys:
                    await client.delete(*keys)
        finally:
            await client.aclose()
    elif server == "nats":
        import nats

        client = await nats.connect("nats://127.0.0.1:4222")
        try:
            js = client.jetstream()
            for info in await js.streams_info():
                if any(f"omniq_{p}_" in info.config.name for p in projects):
                    await js.delete_stream(info.config.name)
        finally:
            await client.close()


@pytest.mark.parametrize("block", [b for b in blocks() if b.lang == "yaml"],
                         ids=lambda b: b.where)
def test_docs_configuration_block_is_accepted(block: Block) -> None:
    if block.not_run is not None:
        pytest.skip(f"{block.where}: not run: {block.not_run}")
    parse_config(yaml.safe_load(block.code), source=block.where)


def test_every_block_says_whether_it_runs() -> None:
    found = blocks()
    assert len(found) > 50, "the documentation lost its examples?"
    for block in found:
        if block.needs is not None:
            assert block.needs in SERVERS, f"{block.where}: needs one of {SERVERS}"
        if block.not_run is not None:
            assert block.not_run.strip(), f"{block.where}: say why it is not run"
        if block.lang in _NEEDS_A_REASON and block.filename is None:
            assert block.not_run or block.background, (
                f"{block.where}: a {block.lang} block is not run: say why "
                "(<!-- not run: reason -->), or run it (<!-- background: ... -->)")


def test_output_convention_is_checked() -> None:
    # The checker itself: a wrong # -> comment must fail.
    assert expected_output("print(1)  # -> 1\nx = 2\nprint(x)  # -> ...") == ["1", "..."]
    assert matches("task ... done", "task 0193 done") and not matches("15", "16")


def test_paths_of_docs_named_in_the_repository_exist() -> None:
    """Source comments, READMEs and pages name docs files by path; each must exist."""
    named = re.compile(r"docs/[\w/.-]+\.(?:qmd|md|svg|py|yml)")
    sources = [REPO / "README.md", *REPO.glob("omniq-*/README.md"),
               *REPO.glob("omniq-*/src/**/*.py"), *REPO.glob("tests/*.py"),
               *REPO.glob("bench/*.md"), *doc_pages()]
    generated = ("docs/api/", "docs/_generated/")  # written by docs/build.py, gitignored
    missing = []
    for source in sources:
        for path in named.findall(source.read_text()):
            if not path.startswith(generated) and not (REPO / path).exists():
                missing.append(f"{source.relative_to(REPO)}: {path}")
    assert not missing, "\n".join(missing)
