"""The checker: from the ledger and the fault log, was anything lost, and was every task that
ran more than once entitled to?

At-least-once allows a second run only when the first one's worker could not finish it: the
worker died (SIGKILL, or a poison pill beside the task), was frozen past its lease, or was cut
off from its server past its lease, while the run was in progress or its completion not yet
written. A run counts as *in progress* at a fault if it started before it and ended (by the
ledger) less than ``settle`` seconds before it: a finished run's completion is written within
that time, or its lease, kept alive by heartbeats until then, would not have run out.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from faults import FaultLog
from ledger import Run


@dataclass
class Verdict:
    """What a scenario did, for its assertions and for the figures it prints."""

    tasks: int
    runs: int
    lost: list[int] = field(default_factory=list)  # accepted keys that never finished
    duplicates: Counter[str] = field(default_factory=Counter)  # second runs, by reason
    unexplained: list[str] = field(default_factory=list)  # second runs without a reason

    @property
    def extra_runs(self) -> int:
        return sum(self.duplicates.values())


def _in_progress(run: Run, at: float, settle: float) -> bool:
    return run.started <= at and (run.finished is None or at - run.finished < settle)


def why_again(run: Run, log: FaultLog, lease: float, settle: float) -> str | None:
    """Why ``run`` may be followed by another run of its task, or None if nothing excuses it."""
    died = log.deaths().get(run.pid)
    if died is not None and _in_progress(run, died, settle):
        return "worker killed"
    for freeze in log.freezes():
        if freeze.pid == run.pid and _in_progress(run, freeze.at, settle) and (
                freeze.until is None or freeze.until - freeze.at > lease):
            return "worker frozen past its lease"
    for outage in log.outages():  # the run overlapped the outage (its completion included)
        if run.started <= (outage.until or run.started) and \
                (run.finished is None or run.finished >= outage.at - settle):
            return "server down while it ran"
    return None


def check(runs: list[Run], keys: set[int], log: FaultLog, *, lease: float,
          settle: float | None = None, never_finish: set[int] | frozenset[int] = frozenset()
          ) -> Verdict:
    """Judge a scenario: ``keys`` are the tasks it enqueued and had acknowledged,
    ``never_finish`` those expected never to finish (poison pills)."""
    settle = max(lease, 2.0) if settle is None else settle
    by_key: dict[int, list[Run]] = defaultdict(list)
    for run in runs:
        by_key[run.key].append(run)
    verdict = Verdict(tasks=len(keys), runs=len(runs))
    for key in sorted(keys - never_finish):
        if not any(run.finished is not None for run in by_key.get(key, [])):
            verdict.lost.append(key)
    for key, key_runs in by_key.items():
        for run in key_runs[:-1]:
            reason = why_again(run, log, lease, settle)
            if reason is None:
                later = key_runs[key_runs.index(run) + 1]
                near = [f"{f.kind} pid {f.pid} at {f.at:.3f}-{f.until}" for f in log.faults
                        if abs(f.at - run.started) < 3 * settle]
                verdict.unexplained.append(
                    f"task {key}: run of attempt {run.attempt} in pid {run.pid} "
                    f"({run.started:.3f}-{run.finished}) was followed by attempt "
                    f"{later.attempt} in pid {later.pid} at {later.started:.3f}, with no fault "
                    f"to excuse it (faults near: {near or 'none'})")
            else:
                verdict.duplicates[reason] += 1
    return verdict
