"""The loop under the blocking API (``omniq._sync``): who runs it, and that nothing waits on it.

A blocking call runs the loop in its own thread when nobody else does; calls from other threads
meanwhile are handed over and woken; work left on the loop keeps running between calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import omniq
import pytest
from omniq._sync import run_on_sync_loop, run_sync
from omniq.sync import pausable


async def _thread_ident() -> int:
    await asyncio.sleep(0)
    return threading.get_ident()


def test_a_blocking_call_runs_the_loop_in_the_calling_thread_when_it_is_free() -> None:
    assert run_sync(_thread_ident) == threading.get_ident()
    seen: list[int] = []
    thread = threading.Thread(target=lambda: seen.append(run_sync(_thread_ident)))
    thread.start()
    thread.join()
    assert seen == [thread.ident]


def test_calls_from_many_threads_at_once_each_get_their_own_result() -> None:
    async def echo(value: int) -> int:
        await asyncio.sleep(0.001)
        return value

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda i: run_sync(echo, i), range(400)))
    assert results == list(range(400))


def test_work_left_on_the_loop_runs_on_between_calls() -> None:
    finished = threading.Event()

    async def leave_work_behind() -> None:
        async def later() -> None:
            await asyncio.sleep(0.05)
            finished.set()

        asyncio.get_running_loop().create_task(later())  # noqa: RUF006 (the test holds it)

    run_sync(leave_work_behind)
    # No further call runs the loop: the background thread must.
    assert finished.wait(5), "a task left on the sync loop did not run until the next call"


def test_a_blocking_call_from_a_coroutine_on_the_sync_loop_is_refused() -> None:
    async def nested() -> None:
        run_sync(_thread_ident)

    with pytest.raises(RuntimeError, match="await the async method"):
        run_sync(nested)


def test_a_blocking_call_works_inside_another_event_loop() -> None:
    async def main() -> str:
        with omniq.OmniQ(project_name="p", backend_type="memory") as oq:
            task_id = oq.enqueue(print, "x")
            stored = oq.get_task(task_id)
            assert stored is not None
            return stored.id

    assert asyncio.run(main())


def test_async_twins_are_awaited_from_another_loop_while_nobody_runs_the_sync_loop() -> None:
    async def main() -> int:
        return await run_on_sync_loop(_thread_ident)

    ran_in = asyncio.run(main())
    assert ran_in != threading.get_ident()  # the background thread ran it


def test_concurrent_blocking_enqueues_are_all_stored() -> None:
    with omniq.OmniQ(project_name="p", backend_type="memory") as oq:
        with ThreadPoolExecutor(16) as pool:
            ids = list(pool.map(lambda i: oq.enqueue(print, i), range(320)))
        assert len(set(ids)) == 320
        assert oq.task_queue.count_tasks(status=omniq.TaskStatus.PENDING) == 320


@contextlib.contextmanager
def ticking(every: float) -> Iterator[list[float]]:
    """A pausable task on the sync loop that notes the time every ``every`` seconds, for the
    block."""
    ticks: list[float] = []

    async def start() -> asyncio.Task[None]:
        async def tick() -> None:
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(every)

        return pausable(asyncio.get_running_loop().create_task(tick()))

    async def stop(task: asyncio.Task[None]) -> None:
        task.cancel()

    task = run_sync(start)
    try:
        yield ticks
    finally:
        run_sync(stop, task)


def test_a_pausable_task_runs_during_calls_and_keeps_no_thread_on_the_loop() -> None:
    with ticking(0.001) as ticks:
        assert run_sync(_thread_ident) == threading.get_ident()  # still run in the caller
        seen = len(ticks)
        time.sleep(0.05)
        # Nobody runs the loop between calls (but a pulse's few ticks may fall in here).
        assert len(ticks) - seen < 10
        seen = len(ticks)
        run_sync(asyncio.sleep, 0.05)
        assert len(ticks) - seen >= 15  # and it runs while a call does


def test_a_pausable_task_still_gets_a_turn_every_pulse_while_no_call_comes() -> None:
    # A connection's reader must answer the server's pings while the client sits idle.
    from omniq._sync import PULSE

    with ticking(PULSE / 10) as ticks:
        seen = len(ticks)
        time.sleep(PULSE * 3.5)
        assert 2 <= len(ticks) - seen <= 10  # a turn a pulse, not one a tenth of it


def test_a_thread_a_blocking_call_borrowed_through_anyio_is_gone_when_the_call_returns() -> None:
    # anyio stops its worker thread in a callback at the end of the calling task: a loop
    # stopped before that callback ran left the thread waiting, and the interpreter with it.
    import anyio.to_thread

    async def borrow_a_thread() -> threading.Thread:
        return await anyio.to_thread.run_sync(threading.current_thread)

    borrowed = run_sync(borrow_a_thread)
    assert borrowed is not threading.current_thread()
    borrowed.join(5)
    assert not borrowed.is_alive(), "anyio's worker thread outlived the blocking call"


@pytest.mark.parametrize("script", [
    # the file backend's calls run in anyio's threads; the client is never closed
    "oq = OmniQ(project_name='exits', task_queue=f'file://{sys.argv[1]}')\n"
    "print(oq.enqueue(print, 1))\n",
    # the store fails to open in __enter__ (no gcsfs), so __exit__ never runs
    "sys.modules['gcsfs'] = None\n"
    "try:\n"
    "    with OmniQ(project_name='exits', task_queue='gs://bucket/q') as oq:\n"
    "        oq.enqueue(print, 1)\n"
    "except omniq.exceptions.ConfigError as exc:\n"
    "    print(exc)\n",
], ids=["file-store-never-closed", "store-failed-to-open"])
def test_a_script_using_the_blocking_client_exits_when_it_ends(script: str,
                                                               tmp_path: Path) -> None:
    code = "import sys\nimport omniq.exceptions\nfrom omniq import OmniQ\n" + script
    try:
        done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], timeout=60,
                              capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        pytest.fail("the script printed its last line but its process did not exit")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
