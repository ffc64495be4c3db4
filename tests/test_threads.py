"""The worker's threads (``omniq.workers._threads.Threads``): results, errors and context cross
back to the loop; calls not started when it shuts down are cancelled."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest
from omniq.workers._threads import Threads

pytestmark = pytest.mark.anyio

request = contextvars.ContextVar("request", default="none")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_each_call_gets_its_own_result_and_error() -> None:
    threads = Threads(4, "t")

    def square(n: int) -> int:
        if n == 3:
            raise ValueError("three")
        return n * n

    def ends_iteration() -> None:
        raise StopIteration

    try:
        outcomes = await asyncio.gather(*(threads.run(square, n) for n in range(8)),
                                        return_exceptions=True)
        assert [o if not isinstance(o, ValueError) else "err" for o in outcomes] == \
            [0, 1, 4, "err", 16, 25, 36, 49]
        with pytest.raises(RuntimeError, match="StopIteration"):
            await threads.run(ends_iteration)
    finally:
        threads.shutdown()


async def test_calls_run_in_threads_with_the_callers_context() -> None:
    threads = Threads(2, "t")
    request.set("r1")
    try:
        name, seen = await threads.run(lambda: (threading.current_thread().name, request.get()))
        assert name.startswith("t-") and seen == "r1"
    finally:
        threads.shutdown()


async def test_shutdown_cancels_the_calls_not_started() -> None:
    threads = Threads(1, "t")
    started = threads.run(time.sleep, 0.2)
    waiting = threads.run(time.sleep, 0)
    await asyncio.sleep(0.05)
    threads.shutdown()
    assert waiting.cancelled()
    assert await started is None  # the running one finishes
