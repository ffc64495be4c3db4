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
    depth_samples: int = 3
    depth_cap_s: float = 5.0
    drain_cap_s: float | None = 10.0
    conc_cap_s: float = 5.0
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

    def __init__(
        self, system: System, cfg: Config, count: int, concurrency: int, grace: float = 0.5
    ) -> None:
        self.system, self.cfg, self.count = system, cfg, count
        self.concurrency = system.fixed_concurrency or concurrency
        # Seconds between SIGTERM and SIGKILL. After a measurement nothing is gained by waiting,
        # except where the backlog is measured again (depth) or a profile is being written.
        self.grace = 10.0 if os.environ.get("BENCH_PROFILE_DIR") else grace
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
        await asyncio.gather(*(loop.run_in_executor(None, p.stop, self.grace) for p in self.procs))


class Progress:
    """Counts completed tasks, from the system's counter or by checking results in order.

    ``await Progress.start(system, handles)`` takes a baseline: what is already done then is
    not counted. Start it before the worker that will be measured starts; ``handles`` may be
    set later instead (before any of them can complete).
    """

    def __init__(self, system: System) -> None:
        self.system = system
        self.handles: list[Any] = []
        self.cursor = 0  # handles[:cursor] are known to be done
        self.native = False
        self.base = 0

    @classmethod
    async def start(cls, system: System, handles: list[Any] | None = None) -> Progress:
        progress = cls(system)
        native = await system.done_count()
        progress.native = native is not None
        if native is not None:
            progress.base = native
        elif handles is not None:
            progress.handles = handles
            # Start past the head earlier workers worked on: the first batch with nothing done.
            # (A stopped worker may leave a hole there for good, e.g. a message it had already
            # acked; counting from a strict prefix would then never move again.)
            pos = 0
            while pos < len(handles) and any(await system.done_flags(handles[pos : pos + BATCH])):
                pos += BATCH
            progress.cursor = progress.base = min(pos, len(handles))
        return progress

    async def count(self) -> int:
        if self.native:
            native = await self.system.done_count()
            assert native is not None
            return native - self.base
        return await self._window() - self.base

    async def _window(self) -> int:
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


@dataclass
class Waited:
    """What ``wait_count`` saw: the first poll with completions, and the last poll."""

    first_t: float
    first_c: int
    end_t: float
    end_c: int
    capped: bool  # stopped by ``cap_s`` before the target

    def rate(self) -> float | None:
        """Tasks per second between the first poll that saw completions and the last."""
        if self.end_t <= self.first_t or self.end_c <= self.first_c:
            return None
        return (self.end_c - self.first_c) / (self.end_t - self.first_t)


async def wait_count(
    progress: Progress,
    target: int,
    workers: Workers,
    cfg: Config,
    poll: float,
    what: str,
    cap_s: float | None = None,
) -> Waited:
    """Poll until ``target`` tasks are done, or ``cap_s`` seconds after the first completion."""
    first_t, first_c = 0.0, 0
    while True:
        c = await progress.count()
        t = time.perf_counter()
        if first_c == 0 and c > 0:
            first_t, first_c = t, c
        if c >= target:
            return Waited(first_t, first_c, t, c, capped=False)
        if cap_s is not None and first_c and t - first_t >= cap_s:
            return Waited(first_t, first_c, t, c, capped=True)
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
    """Start ``workers`` worker processes on a full queue and time until every task is done.

    A drain still running ``cfg.drain_cap_s`` seconds after its first completion is stopped
    there, and its rate is over the tasks done by then (``drained`` says how many).
    """
    n = len(handles)
    progress = await Progress.start(system)
    progress.handles = handles
    async with Workers(system, cfg, workers, cfg.concurrency) as ws:
        seen = await wait_count(progress, n, ws, cfg, 0.01, "draining", cfg.drain_cap_s)
    processed = seen.rate()
    if processed is None:  # everything finished before the first poll saw anything
        processed = rate(seen.end_c, seen.end_t - ws.started)
    return {
        "processed_per_s": processed,
        "startup_s": seen.first_t - ws.started if seen.first_c else None,
        "drained": seen.end_c,
        "tasks": n,
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


async def producers(system: System, cfg: Config) -> dict[str, Any]:
    """N no-op tasks enqueued one by one by many producers of one process at once (100
    coroutines of an async app, or 16 threads of a sync one); no worker runs."""
    t0 = time.perf_counter()
    handles = await system.enqueue_concurrently("noop", cfg.tasks)
    seconds = time.perf_counter() - t0
    if len(handles) != cfg.tasks or len(set(handles)) != cfg.tasks:
        raise RuntimeError(f"{len(set(handles))} distinct handles for {cfg.tasks} tasks")
    waiting = await system.waiting_count()
    if waiting is not None and waiting != cfg.tasks:
        raise RuntimeError(f"{waiting} tasks waiting after {cfg.tasks} acknowledged enqueues")
    return {"enqueue_concurrent_per_s": rate(cfg.tasks, seconds)}


async def parallel(system: System, cfg: Config) -> dict[str, Any]:
    """The throughput drain with two worker processes instead of one."""
    handles = await fill(system, "noop", cfg.tasks, cfg)
    result = await drain(system, handles, cfg, workers=2)
    return {
        "processed_2w_per_s": result["processed_per_s"],
        "startup_s": result["startup_s"],
        "drained_2w": result["drained"],
        "tasks": result["tasks"],
    }


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
    A system still busy ``cfg.conc_cap_s`` seconds after its first completion is stopped there:
    its wall time is only known to exceed that (``wall_s`` is None, ``done`` says how far).
    """
    level = system.fixed_concurrency or cfg.conc_level
    progress = await Progress.start(system)
    progress.handles = await fill(system, "sleep", cfg.conc_tasks, cfg)
    n = len(progress.handles)
    async with Workers(system, cfg, 1, cfg.conc_level) as ws:
        seen = await wait_count(progress, n, ws, cfg, 0.001, "sleeping", cfg.conc_cap_s)
    wall = None if seen.capped else seen.end_t - seen.first_t + 0.01
    # The ideal is the same for every row, also for a system that cannot run 100 at once:
    # that limit is part of what the row shows.
    ideal = cfg.conc_tasks * 0.01 / cfg.conc_level
    return {
        "wall_s": wall,
        "wall_over_ideal": None if wall is None else wall / ideal,
        "wall_more_than_s": seen.end_t - seen.first_t + 0.01 if seen.capped else None,
        "done": seen.end_c,
        "startup_s": seen.first_t - ws.started,
        "effective_concurrency": level,
    }


async def depth(system: System, cfg: Config) -> dict[str, Any]:
    """Claim cost (ms per task for one worker) with a small and a large backlog waiting.

    Returns ``samples``: ``cfg.depth_samples`` measurements, each with a fresh worker. The small
    backlog is filled anew for each sample; the large one is filled once (filling it is most of
    the cost) and each sample takes up to ``depth_window`` tasks off its head, so its depth
    stays within a few thousand of the size asked for. A sample stops after
    ``cfg.depth_cap_s`` seconds if the window is not done by then (slow claims at depth).
    """
    small: list[float] = []
    large: list[float] = []
    for _ in range(cfg.depth_samples):
        await system.reset()
        small.append(await _claim_ms(system, cfg, await fill(system, "noop", cfg.depth_small, cfg)))
    await system.reset()
    handles = await fill(system, "noop", cfg.depth_large, cfg)
    for _ in range(cfg.depth_samples):
        large.append(await _claim_ms(system, cfg, handles))
    return {
        "samples": [
            {
                "ms_per_task_small": s,
                "ms_per_task_large": lg,
                "large_over_small": lg / s,
                "depth_small": cfg.depth_small,
                "depth_large": cfg.depth_large,
            }
            for s, lg in zip(small, large, strict=True)
        ]
    }


async def _claim_ms(system: System, cfg: Config, handles: list[Any]) -> float:
    """One worker on the backlog: ms per task over up to ``depth_window`` tasks after warm-up."""
    progress = await Progress.start(system, handles)
    # Everything done since the reset is one of ``handles`` (the reset came before the fill).
    remaining = len(handles) - progress.base
    # A graceful stop, so the next sample finds no task claimed by a dead worker (JetStream,
    # for one, would hold it until its ack wait ran out), nor a hole in the completed head.
    async with Workers(system, cfg, 1, cfg.concurrency, grace=10.0) as ws:
        first = await wait_count(progress, 1, ws, cfg, 0.005, "warming up")
        target = min(remaining, first.first_c + cfg.depth_window)
        seen = await wait_count(progress, target, ws, cfg, 0.005, "at depth", cfg.depth_cap_s)
    done = seen.end_c - first.first_c
    if done <= 0:
        raise RuntimeError("no task completed after the first one; cannot time claims")
    return (seen.end_t - first.first_t) * 1000 / done


WORKLOADS = {
    "throughput": throughput,
    "latency": latency,
    "depth": depth,
    "concurrency": concurrency,
    "parallel": parallel,
    "producers": producers,
}


def default_log_prefix(run_dir: str, system: str, workload: str, repeat: int) -> str:
    return os.path.join(run_dir, f"{system}-{workload}-{repeat}")
