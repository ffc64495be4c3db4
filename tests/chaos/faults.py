"""The fault harness: a supervisor that keeps worker processes alive, a driver that hurts them
on a timer (SIGKILL, SIGTERM, SIGSTOP/SIGCONT) or takes their server away, and the log of
everything it did, stamped with the wall clock the ledger uses."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

Proc = subprocess.Popen[str]


@dataclass
class Fault:
    at: float  # wall clock when it was done (or, for an exit, seen)
    kind: str  # SIGKILL, SIGTERM, SIGSTOP, exit, server-down
    pid: int | None = None
    until: float | None = None  # end of a freeze or an outage
    code: int | None = None  # an exit's return code


@dataclass
class FaultLog:
    faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def count(self, kind: str) -> int:
        return sum(f.kind == kind for f in self.faults)

    def deaths(self) -> dict[int, float]:
        """When each process that did not stop gracefully was killed (or seen dead)."""
        died: dict[int, float] = {}
        for f in self.faults:
            if f.pid is not None and (f.kind == "SIGKILL" or (f.kind == "exit" and f.code)):
                died[f.pid] = min(died.get(f.pid, f.at), f.at)
        return died

    def freezes(self) -> list[Fault]:
        return [f for f in self.faults if f.kind == "SIGSTOP"]

    def outages(self) -> list[Fault]:
        return [f for f in self.faults if f.kind == "server-down"]


class Supervisor:
    """Keeps ``count`` worker processes running: one that exits, for whatever reason, is
    replaced (its exit is logged with its return code). ``spawn`` returns a process that is
    ready to work; it is called from threads, so that processes start together."""

    def __init__(self, spawn: Callable[[], Proc], count: int, log: FaultLog) -> None:
        self.spawn, self.count, self.log = spawn, count, log
        self.procs: list[Proc] = []
        self.restarts = 0
        self.stopping: set[int] = set()  # pids told to stop gracefully: left to do so
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="chaos-supervisor", daemon=True)
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    def start(self) -> Supervisor:
        """Start the workers (together) and begin watching them."""
        with ThreadPoolExecutor(self.count) as pool:
            self.procs = list(pool.map(lambda _: self.spawn(), range(self.count)))
        self._thread.start()
        return self

    def __enter__(self) -> Supervisor:
        return self if self._thread.is_alive() else self.start()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)
        if self._error is not None and exc[0] is None:
            raise RuntimeError("the supervisor could not restart a worker") from self._error

    def targets(self) -> list[Proc]:
        """The workers a fault may hit: none while a replacement is still starting (a storm
        faster than restarts would only measure how long processes take to start), and none
        already stopping."""
        with self._lock:
            alive = [p for p in self.procs if p.poll() is None]
            if len(alive) < self.count:
                return []
            return [p for p in alive if p.pid not in self.stopping]

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            for index, proc in enumerate(list(self.procs)):
                code = proc.poll()
                if code is None:
                    continue
                self.log.add(Fault(time.time(), "exit", proc.pid, code=code))
                try:
                    fresh = self.spawn()
                except BaseException as exc:  # reported by __exit__
                    self._error = exc
                    return
                with self._lock:
                    self.procs[index] = fresh
                self.restarts += 1


class Driver:
    """Does ``fault`` every ``every`` seconds in a thread, until the block ends (or ``times``
    faults were done)."""

    def __init__(self, every: float, fault: Callable[[], bool], times: int | None = None) -> None:
        self.every, self.fault, self.times = every, fault, times
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-driver", daemon=True)

    def __enter__(self) -> Driver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def _run(self) -> None:
        done = 0
        while not self._stop.wait(self.every) and (self.times is None or done < self.times):
            if self.fault():
                done += 1


def signal_one(supervisor: Supervisor, sig: signal.Signals) -> Callable[[], bool]:
    """A fault: ``sig`` to one running worker, chosen at random; True if one was sent."""

    def fault() -> bool:
        targets = supervisor.targets()
        if not targets:
            return False
        victim = random.choice(targets)
        if sig == signal.SIGTERM:
            supervisor.stopping.add(victim.pid)
        try:
            os.kill(victim.pid, sig)
        except ProcessLookupError:
            return False
        supervisor.log.add(Fault(time.time(), sig.name, victim.pid))
        return True
    return fault


@contextlib.contextmanager
def frozen(proc: Proc, log: FaultLog) -> Iterator[Fault]:
    """SIGSTOP ``proc`` for the block, then SIGCONT; the freeze is logged with its end."""
    os.kill(proc.pid, signal.SIGSTOP)
    fault = log.add(Fault(time.time(), "SIGSTOP", proc.pid))
    try:
        yield fault
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        fault.until = time.time()
