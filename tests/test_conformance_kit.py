"""The conformance kit catches what it claims to catch, and says what a plugin left out.

Each check runs the kit with pytest in a subprocess on a throwaway test module, outside this
repository's conftest, the way a third party runs it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# A queue whose claim reads the runnable tasks, then leases them in a second, unconditional step:
# two claimers in between take the same task. The kit must fail it, in one process and across
# several.
RACY_QUEUE = """
    from datetime import timedelta

    import anyio
    import msgspec
    from omniq.models import TaskStatus
    from omniq_sqlite import AsyncSQLiteTaskQueue


    class RacySQLiteTaskQueue(AsyncSQLiteTaskQueue):
        async def claim(self, queues, *, worker_id, lease, now, limit=1):
            found = [t for q in queues
                     for t in await self.list_tasks(queue_name=q, status=TaskStatus.PENDING,
                                                    limit=limit)
                     if t.run_at <= now][:limit]
            await anyio.sleep(0.005)
            claimed = []
            for task in found:
                running = msgspec.structs.replace(
                    task, status=TaskStatus.RUNNING, attempts=task.attempts + 1,
                    worker_id=worker_id, started_at=now,
                    lease_expires_at=now + timedelta(seconds=lease))
                if await self.update_task(running, expect_status=[TaskStatus.PENDING,
                                                                  TaskStatus.RUNNING]):
                    claimed.append(running)
            return claimed
"""

RACY_TESTS = """
    import functools

    import pytest
    from omniq.testing import ClaimAtomicityTests
    from racy_queue import RacySQLiteTaskQueue


    class TestRacyClaims(ClaimAtomicityTests):
        @pytest.fixture
        def task_queue_factory(self, project_name, tmp_path):
            return functools.partial(RacySQLiteTaskQueue, project_name=project_name,
                                     database_path=str(tmp_path / "race.db"))
"""

BARE_TESTS = """
    from omniq.testing import ConformanceTests


    class TestNothingProvided(ConformanceTests):
        pass
"""


def run_kit(directory: Path, modules: dict[str, str], *args: str) -> str:
    for name, text in modules.items():
        (directory / name).write_text(textwrap.dedent(text).lstrip())
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:randomly",
         "-p", "no:cacheprovider", "--rootdir", str(directory), *args],
        cwd=directory, capture_output=True, text=True, timeout=150,
    )
    return done.stdout + done.stderr


@pytest.mark.slow
def test_kit_fails_a_claim_that_is_not_atomic(tmp_path: Path) -> None:
    output = run_kit(tmp_path, {"racy_queue.py": RACY_QUEUE, "test_racy.py": RACY_TESTS})
    for test in ("test_separate_instances_claim_each_task_exactly_once",
                 "test_separate_processes_claim_each_task_exactly_once"):
        assert f"FAILED test_racy.py::TestRacyClaims::{test}" in output, output
    assert "claimed more than once across 4 task-queue instances" in output, output
    assert "claimed more than once across 3 processes" in output, output
    assert "2 failed" in output, output


def test_kit_says_which_fixture_a_plugin_must_provide(tmp_path: Path) -> None:
    output = run_kit(tmp_path, {"test_bare.py": BARE_TESTS}, "-k",
                     "test_type_is_registered or test_claim_of_an_empty_queue")
    assert "provide a fixture 'backend_type' that returns the type name your plugin " \
           "registers" in output, output
    # The components are built from backend_type and backend_options: those two are all a
    # plugin must provide, and a test that needs a component names the first one missing.
    assert "provide a fixture 'task_queue'" not in output, output
    assert "2 errors" in output, output


MISCOUNTING_TESTS = """
    import pytest
    from omniq.backend.memory import AsyncMemoryTaskQueue
    from omniq.testing import TaskQueueTests


    class MiscountingQueue(AsyncMemoryTaskQueue):
        async def count_tasks(self, *args, **kwargs):
            return str(await super().count_tasks(*args, **kwargs))


    class TestMiscounting(TaskQueueTests):
        @pytest.fixture
        def backend_type(self):
            return "memory"

        @pytest.fixture
        def backend_options(self):
            return {}

        @pytest.fixture
        async def task_queue(self, project_name):
            async with MiscountingQueue(project_name=project_name) as queue:
                yield queue
"""


def test_a_failed_kit_check_shows_its_values(tmp_path: Path) -> None:
    # pytest rewrites the asserts of the modules it collects; the kit's are registered too.
    output = run_kit(tmp_path, {"test_miscounting.py": MISCOUNTING_TESTS}, "-k", "count")
    assert "AssertionError: assert '7' == 7" in output, output
    assert "PytestAssertRewriteWarning" not in output, output


SLOW_STORE_TESTS = """
    import pytest
    from omniq.testing import ConformanceTests, running_worker


    class TestSlowStore(ConformanceTests):
        @pytest.fixture
        def backend_type(self):
            return "memory"

        @pytest.fixture
        def backend_options(self):
            return {}

        @pytest.fixture
        def worker_settings(self):
            return {"lease": 7.0}

        @pytest.mark.anyio
        async def test_kit_workers_take_the_plugins_settings(self, omniq):
            async with running_worker(omniq, "async") as worker:
                assert (worker.lease, worker.poll_interval) == (7.0, 0.05)
"""


def test_kit_workers_take_a_plugins_worker_settings(tmp_path: Path) -> None:
    output = run_kit(tmp_path, {"test_slow_store.py": SLOW_STORE_TESTS}, "-k",
                     "test_kit_workers_take_the_plugins_settings")
    assert "1 passed" in output, output


def test_the_kits_worker_tasks_load_without_pytest_or_hypothesis() -> None:
    """A process-pool child imports ``omniq.testing._tasks`` to run a kit task; the kit itself
    (pytest, hypothesis: about a second of CPU) is imported only when one of its names is used."""
    probe = ("import sys, omniq.testing._tasks, omniq.testing; "
             "print(sorted(m for m in ('pytest', 'hypothesis') if m in sys.modules)); "
             "omniq.testing.ConformanceTests; print('pytest' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.split() == ["[]", "True"]


def test_the_kit_without_pytest_says_what_to_install() -> None:
    probe = ("import sys; sys.modules['hypothesis'] = None\n"
             "try:\n    from omniq.testing import ConformanceTests\n"
             "except ModuleNotFoundError as exc:\n    print(exc.name, '|', exc)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, check=True)
    name, message = done.stdout.strip().split(" | ")
    assert name == "hypothesis"
    assert message == ("omniq.testing needs hypothesis, which is not installed: the kit runs "
                       "under pytest, anyio, hypothesis; install them: "
                       "pip install pytest anyio hypothesis")


def test_every_public_name_of_the_kit_resolves() -> None:
    import omniq.testing as kit

    missing = [name for name in kit.__all__ if not hasattr(kit, name)]
    assert missing == [], f"listed in omniq.testing.__all__ but not found: {missing}"
