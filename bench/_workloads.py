"""The five workloads, written once against the ``System`` interface.

Timing rules shared by all of them:
- Worker start-up is never counted as processing time: a drain's rate runs from the first
  completion the harness observes to the last (start-up is reported separately).
- Completion is a real signal: a counter the system keeps, or each task's stored result
  (``System.done_flags``), never a sleep.
- Every wait is bounded by the workload's deadline; a worker that dies fails the workload with
  the end of its log.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from typing import Any

from _procs import Worker, spawn_worker
from systems._base import System

BATCH = 64  # handles checked per done_flags call
MAX_BATCHES_PER_POLL = 50


class BenchTimeout(RuntimeError):
    """A workload ran past its deadline."""


@dataclass
class Config:
    """What one client invocation runs, and where it writes logs."""

    tasks: int = 10_000
    concurrency: int = 10
    latency_tasks: int = 200
    conc_tasks: int = 1_000
    conc_level: int = 100
    depth_small: int = 1_000
    depth_large: int = 100_000
    depth_window: int = 1_000
    deadline: float = 0.0  # time.monotonic() value
    log_prefix: str = "/tmp/omniq-bench-worker"
    pid_file: str = "/tmp/omniq-bench-pids"

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def check(self, what: str) -> None:
        if time.monotonic() > self.deadline:
            raise BenchTimeout(f"time limit reached while {what}")


class Workers:
    """The worker processes (or in-process worker) of one measurement."""

    def __init__(self, system: System, cfg: Config, count: int, concurrency: int) -> None:
        self.system, self.cfg, self.count = system, cfg, count
        self.concurrency = system.fixed_concurrency or concurrency
        self.procs: list[Worker] = []
        self.inproc = False
        self.started = 0.0

    async def __aenter__(self) -> Workers:
        self.started = time.perf_counter()
        if self.system.inprocess_worker:
            if self.count != 1:
                raise RuntimeError("in-process worker only: one worker per process")
            await self.system.start_inprocess_worker(self.concurrency)
            self.inproc = True
            return self
        argv = self.system.worker_argv(self.concurrency)
        env = {"BENCH_CONCURRENCY": str(self.concurrency), **self.system.worker_env()}
        for i in range(self.count):
            log = f"{self.cfg.log_prefix}-w{i}.log"
            self.procs.append(spawn_worker(argv, env, log, self.cfg.pid_file))
        return self

    def check_alive(self) -> None:
        for proc in self.procs:
            proc.check_alive()

    async def __aexit__(self, *exc: object) -> None:
        if self.inproc:
            await self.system.stop_inprocess_worker()
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(None, p.stop) for p in self.procs))


class Progress:
    """Counts completed tasks, from the system's counter or by checking results in order.

    Create it (``await Progress.start(system)``) before any of the tasks it will count can
    complete: a system's counter is read then as the baseline. Set ``handles`` after the fill.
    """

    def __init__(self, system: System, baseline: int | None) -> None:
        self.system, self.baseline = system, baseline
        self.handles: list[Any] = []
        self.cursor = 0  # handles[:cursor] are known to be done

    @classmethod
    async def start(cls, system: System) -> Progress:
        return cls(system, await system.done_count())

    async def count(self) -> int:
        if self.baseline is not None:
            native = await self.system.done_count()
            assert native is not None
            return native - self.baseline
        # Tasks finish roughly in enqueue order: confirm a prefix a small batch at a time, and
        # count the finished ones in the first unconfirmed batch (cheap while the worker is
        # behind, exact once everything is done).
        for _ in range(MAX_BATCHES_PER_POLL):
            if self.cursor >= len(self.handles):
                break
            batch = self.handles[self.cursor : self.cursor + BATCH]
            flags = await self.system.done_flags(batch)
            lead = 0
            while lead < len(flags) and flags[lead]:
                lead += 1
            self.cursor += lead
            if lead < len(flags):
                return self.cursor + sum(flags[lead:])
        return self.cursor


async def wait_count(
    progress: Progress, target: int, workers: Workers, cfg: Config, poll: float, what: str
) -> tuple[float, int, float]:
    """Poll until ``target`` tasks are done; return (first-seen time, count then, end time)."""
    first_t, first_c = 0.0, 0
    while True:
        c = await progress.count()
        t = time.perf_counter()
        if first_c == 0 and c > 0:
            first_t, first_c = t, c
        if c >= target:
            return first_t, first_c, t
        workers.check_alive()
        if time.monotonic() > cfg.deadline:
            raise BenchTimeout(f"time limit reached while {what}: {c}/{target} done")
        await asyncio.sleep(poll)


async def fill(system: System, kind: str, n: int, cfg: Config) -> list[Any]:
    """Put ``n`` tasks in the queue, in bulk where the system offers it (not timed)."""
    handles: list[Any] = []
    step = 10_000 if system.supports_bulk else 1
    while len(handles) < n:
        cfg.check(f"filling the queue ({len(handles)}/{n})")
        if system.supports_bulk:
            handles.extend(await system.enqueue_bulk(kind, min(step, n - len(handles))))
        else:
            handles.append(await system.enqueue(kind))
    return handles


def rate(count: int, seconds: float) -> float | None:
    return count / seconds if seconds > 0 else None


async def drain(system: System, handles: list[Any], cfg: Config, workers: int) -> dict[str, Any]:
    """Start ``workers`` worker processes on a full queue and time until every task is done."""
    n = len(handles)
    progress = await Progress.start(system)
    progress.handles = handles
    async with Workers(system, cfg, workers, cfg.concurrency) as ws:
        first_t, first_c, end_t = await wait_count(progress, n, ws, cfg, 0.01, "draining")
    if end_t > first_t and first_c < n:
        processed = rate(n - first_c, end_t - first_t)
    else:  # everything finished before the first poll saw anything
        processed = rate(n, end_t - ws.started)
    return {
        "processed_per_s": processed,
        "startup_s": first_t - ws.started if first_c else None,
        "end_to_end_per_s": rate(n, end_t - ws.started),
    }


async def throughput(system: System, cfg: Config) -> dict[str, Any]:
    """Enqueue N no-op tasks one by one and in bulk, then drain them with one worker."""
    n = cfg.tasks
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    handles = []
    for _ in range(n):
        handles.append(await system.enqueue("noop"))
        if len(handles) % 1000 == 0:
            cfg.check("enqueueing one by one")
    out["enqueue_one_per_s"] = rate(n, time.perf_counter() - t0)
    if system.supports_bulk:
        await system.reset()
        t0 = time.perf_counter()
        handles = await system.enqueue_bulk("noop", n)
        out["enqueue_bulk_per_s"] = rate(n, time.perf_counter() - t0)
    if len(handles) != n:
        raise RuntimeError(f"enqueue returned {len(handles)} handles for {n} tasks")
    out.update(await drain(system, handles, cfg, workers=1))
    return out


async def parallel(system: System, cfg: Config) -> dict[str, Any]:
    """The throughput drain with two worker processes instead of one."""
    handles = await fill(system, "noop", cfg.tasks, cfg)
    result = await drain(system, handles, cfg, workers=2)
    return {"processed_2w_per_s": result["processed_per_s"], "startup_s": result["startup_s"]}


async def latency(system: System, cfg: Config) -> dict[str, Any]:
    """An idle worker; tasks sent one after another, each awaited before the next."""
    async with Workers(system, cfg, 1, cfg.concurrency) as ws:
        for i in range(5):  # the first waits out the worker's start-up
            value = await system.wait_result(await system.enqueue("noop"), timeout=60 if i else 90)
            if value != 1:
                raise RuntimeError(f"no-op task returned {value!r}, expected 1")
        samples = []
        for _ in range(cfg.latency_tasks):
            ws.check_alive()
            cfg.check("measuring latency")
            t0 = time.perf_counter()
            handle = await system.enqueue("noop")
            await system.wait_result(handle, timeout=30)
            samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return {
        "p50_ms": percentile(samples, 50),
        "p99_ms": percentile(samples, 99),
        "mean_ms": sum(samples) / len(samples),
    }


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


async def concurrency(system: System, cfg: Config) -> dict[str, Any]:
    """1,000 tasks of a 10 ms sleep, one worker at concurrency 100: wall time vs the 0.1 s ideal.

    The tasks wait in the queue before the worker starts, so enqueue speed is not part of the
    figure. Wall time runs from the first completion seen to the last, plus the 10 ms the first
    tasks spent sleeping before anything could complete (the ideal is 0.1 s: ten rounds of 100).
    """
    level = system.fixed_concurrency or cfg.conc_level
    progress = await Progress.start(system)
    progress.handles = await fill(system, "sleep", cfg.conc_tasks, cfg)
    n = len(progress.handles)
    async with Workers(system, cfg, 1, cfg.conc_level) as ws:
        first_t, first_c, end_t = await wait_count(progress, n, ws, cfg, 0.001, "sleeping")
    wall = end_t - first_t + 0.01
    # The ideal is the same for every row, also for a system that cannot run 100 at once:
    # that limit is part of what the row shows.
    ideal = cfg.conc_tasks * 0.01 / cfg.conc_level
    return {
        "wall_s": wall,
        "wall_over_ideal": wall / ideal,
        "startup_s": first_t - ws.started,
        "effective_concurrency": level,
    }


async def depth(system: System, cfg: Config) -> dict[str, Any]:
    """Claim cost (ms per task for one worker) with a small and a large backlog waiting."""
    out: dict[str, Any] = {}
    for label, size in (("small", cfg.depth_small), ("large", cfg.depth_large)):
        await system.reset()
        progress = await Progress.start(system)
        progress.handles = await fill(system, "noop", size, cfg)
        window = min(cfg.depth_window, size)
        async with Workers(system, cfg, 1, cfg.concurrency) as ws:
            first_t, first_c, _ = await wait_count(progress, 1, ws, cfg, 0.005, "warming up")
            target = min(size, first_c + window)
            if target <= first_c:
                raise RuntimeError("backlog drained before it could be measured")
            _, _, end_t = await wait_count(progress, target, ws, cfg, 0.005, f"depth {size}")
        out[f"ms_per_task_{label}"] = (end_t - first_t) * 1000 / (target - first_c)
        out[f"depth_{label}"] = size
    out["large_over_small"] = out["ms_per_task_large"] / out["ms_per_task_small"]
    return out


WORKLOADS = {
    "throughput": throughput,
    "latency": latency,
    "depth": depth,
    "concurrency": concurrency,
    "parallel": parallel,
}


def default_log_prefix(run_dir: str, system: str, workload: str, repeat: int) -> str:
    return os.path.join(run_dir, f"{system}-{workload}-{repeat}")
