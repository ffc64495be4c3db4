"""The README's demo: a few tasks enqueued, a worker runs them, results printed.

It runs on the embedded default: SQLite in ``.omniq/`` of the current directory when
omniq-sqlite is installed (so what it enqueues survives a restart), else in memory.
"""

from __future__ import annotations

import asyncio
import time

from . import plugins


def add(x: int, y: int) -> int:
    return x + y


async def slow_square(x: int) -> int:
    await asyncio.sleep(0.05)
    return x * x


def fails() -> None:
    raise ValueError("this task fails on purpose")


def default_backend() -> str:
    try:
        plugins.lookup("backend", "sqlite")
    except LookupError:
        return "memory"
    return "sqlite"


def run(backend_type: str | None = None, tasks: int = 5) -> None:
    from . import OmniQ, TaskFailedError

    backend_type = backend_type or default_backend()
    print(f"OmniQ demo on the {backend_type!r} backend")
    with OmniQ(project_name="omniq_demo", backend_type=backend_type,
               queues=["high", "low"]) as oq:
        oq.start_worker(worker_type="async", max_workers=10)
        try:
            started = time.perf_counter()
            ids = [oq.enqueue(add, i, 10 * i, queue_name="low") for i in range(tasks)]
            ids += [oq.enqueue(slow_square, func_args={"x": i}, queue_name="high")
                    for i in range(tasks)]
            failing = oq.enqueue(fails, name="always fails")
            for task_id in ids:
                task = oq.get_task(task_id)
                value = oq.get_result(task_id, timeout=30)
                name = task_id if task is None else task.func_name
                print(f"  {name:<28} -> {value!r}")
            try:
                oq.get_result(failing, timeout=30)
            except TaskFailedError as exc:
                print(f"  {'omniq._demo:fails':<28} -> raised {exc.exc_type}: {exc.message}")
            elapsed = time.perf_counter() - started
            print(f"{len(ids) + 1} tasks enqueued, run and collected in {elapsed * 1000:.0f} ms")
        finally:
            oq.stop_worker()
