"""The sync classes are real classes to type checkers; their generated forwarders are current."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import omniq
import pytest
from omniq.queue.memory import AsyncMemoryTaskQueue
from omniq.sync import TaskQueue, as_async, run_sync

# The generator is a development tool of this repository, not part of the package.
_TOOL = Path(__file__).parents[1] / "tools" / "generate_sync_forwarders.py"
_spec = importlib.util.spec_from_file_location("generate_sync_forwarders", _TOOL)
assert _spec is not None and _spec.loader is not None
generator = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generator)

SNIPPET = """\
from omniq import OmniQ
from omniq_sqlite import SQLiteTaskQueue


def double(x: int) -> int:
    return x * 2


oq = OmniQ(project_name="p", backend_type="memory")
reveal_type(oq.enqueue(double, 1))
reveal_type(oq.task_queue)
oq.enqueue_typo(double, 1)
queue = SQLiteTaskQueue(project_name="p")
reveal_type(queue.count_tasks())
queue.count_taskz()
from omniq.queue import SQLiteTaskQueue as ThroughTheFacade  # found at run time: Any
reveal_type(ThroughTheFacade(project_name="p").count_tasks())
from omniq.clock import to_epoch, utcnow
reveal_type(to_epoch(utcnow()))  # a float, not "float | None", for a datetime
"""


def test_generated_forwarders_match_the_async_classes() -> None:
    assert generator.TARGET.read_text() == generator.render(), (
        f"{generator.TARGET.name} is stale: an async method changed. Regenerate it with "
        "`python tools/generate_sync_forwarders.py` and commit the result.")


def test_mypy_sees_the_methods_of_omniq_and_of_a_plugin_twin(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    pytest.importorskip("omniq_sqlite")
    (tmp_path / "snippet.py").write_text(SNIPPET)
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache"), "snippet.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    out = run.stdout
    assert 'snippet.py:10: note: Revealed type is "str"' in out, out
    assert 'snippet.py:11: note: Revealed type is "omniq.sync.TaskQueue"' in out, out
    assert 'snippet.py:12: error: "OmniQ" has no attribute "enqueue_typo"' in out, out
    assert 'snippet.py:14: note: Revealed type is "int"' in out, out
    assert 'snippet.py:15: error: "SQLiteTaskQueue" has no attribute "count_taskz"' in out, out
    assert 'snippet.py:17: note: Revealed type is "Any"' in out, out  # not "object": usable
    assert 'snippet.py:19: note: Revealed type is "float"' in out, out
    assert "Found 2 errors in 1 file" in out, out


class _AsyncQueueWithExtra(AsyncMemoryTaskQueue):
    """A plugin queue with a coroutine of its own and a changed default."""

    async def vacuum(self, *, keep: int = 3) -> int:
        return keep

    async def count_tasks(self, *, queue_name: str | None = "plugin",
                          status: Any = None) -> int:
        return 7 if queue_name == "plugin" else 0


class _QueueWithExtra(TaskQueue, twin_of=_AsyncQueueWithExtra):
    """Blocking twin of :class:`_AsyncQueueWithExtra`."""


def test_a_twin_forwards_what_the_generated_base_does_not_cover() -> None:
    assert omniq.sync.SyncTwin is not None
    queue = _QueueWithExtra(project_name="p")
    assert queue.vacuum(keep=5) == 5  # type: ignore[attr-defined]
    assert queue.count_tasks() == 7  # the plugin's own default, not the base's


def test_components_handed_out_by_a_sync_object_are_sync_twins() -> None:
    with omniq.OmniQ(project_name="p", backend_type="memory") as oq:
        assert isinstance(oq.task_queue, TaskQueue)
        assert isinstance(oq.result_store, omniq.ResultStore)
        task_id = oq.task_queue.enqueue(textwrap.dedent, "x")
        assert oq.task_queue.get_task(task_id) is not None


class _TypedQueueWithExtra(TaskQueue, twin_of=_AsyncQueueWithExtra):
    def vacuum(self, *, keep: int = 3) -> int:
        return run_sync(as_async(self).vacuum, keep=keep)


def test_a_plugin_writes_a_typed_forwarder_with_the_public_helpers() -> None:
    assert _TypedQueueWithExtra(project_name="p").vacuum(keep=4) == 4
