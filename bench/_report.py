"""Aggregate raw runs (medians and spread) and write ``RESULTS.md`` and ``results/latest.json``.

Spread is reported as the half-range over the median (``±x%``): with 3 runs, the largest
distance of a run from the middle of the range, relative to the median. Raw values of every
run are kept in the JSON.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Where the time goes in the figures that miss their target (kept by hand, see above).
MISSES = Path(__file__).with_name("MISSES.md")

ENGINE_ORDER = ["memory", "redis", "postgres", "sqlite", "nats", "file", "s3"]

#: (workload, metric, label, higher_is_better, format)
METRICS: list[tuple[str, str, str, bool, str]] = [
    ("throughput", "enqueue_one_per_s", "enqueue one by one /s", True, "rate"),
    ("throughput", "enqueue_bulk_per_s", "enqueue bulk /s", True, "rate"),
    ("producers", "enqueue_concurrent_per_s", "enqueue from concurrent producers /s", True, "rate"),
    ("throughput", "processed_per_s", "processed /s (1 worker)", True, "rate"),
    ("parallel", "processed_2w_per_s", "processed /s (2 workers)", True, "rate"),
    ("latency", "p50_ms", "p50 ms", False, "ms"),
    ("latency", "p99_ms", "p99 ms", False, "ms"),
    ("concurrency", "wall_s", "wall s (ideal 0.1)", False, "s"),
    ("depth", "ms_per_task_small", "ms/task, small backlog", False, "ms3"),
    ("depth", "ms_per_task_large", "ms/task, large backlog", False, "ms3"),
    ("depth", "large_over_small", "large / small", False, "x"),
]


@dataclass
class Cell:
    """The aggregate of one metric of one row over its runs."""

    values: list[float]
    runs: int  # runs attempted
    errors: list[str]

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    @property
    def spread(self) -> float | None:
        med = self.median
        if not self.values or not med:
            return None
        return (max(self.values) - min(self.values)) / 2 / med

    def as_json(self) -> dict[str, Any]:
        return {
            "median": self.median,
            "min": min(self.values) if self.values else None,
            "max": max(self.values) if self.values else None,
            "spread": self.spread,
            "runs_ok": len(self.values),
            "runs": self.runs,
            "values": self.values,
            "errors": self.errors,
        }


def aggregate(raw: list[dict[str, Any]]) -> dict[str, dict[str, Cell]]:
    """raw run records -> {row: {metric: Cell}}; errors are attached to every metric of the
    workload that failed."""
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for rec in raw:
        runs.setdefault((rec["row"], rec["workload"]), []).append(rec)
    out: dict[str, dict[str, Cell]] = {}
    for (row, workload), recs in runs.items():
        errors = [r["error"] for r in recs if not r.get("ok")]
        metric_names = {m for r in recs if r.get("ok") for m in r["metrics"]}
        metric_names |= {m for w, m, *_ in METRICS if w == workload}
        for metric in metric_names:
            values = [
                float(r["metrics"][metric])
                for r in recs
                if r.get("ok") and r["metrics"].get(metric) is not None
            ]
            out.setdefault(row, {})[metric] = Cell(values, len(recs), errors)
    return out


def fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "rate":
        return f"{value:,.0f}"
    if kind == "ms":
        return f"{value:.2f}"
    if kind == "ms3":
        return f"{value:.3f}"
    if kind == "s":
        return f"{value:.3f}"
    if kind == "x":
        return f"{value:.2f}×"
    return f"{value:.3g}"


def cell_text(cell: Cell | None, kind: str) -> str:
    if cell is None:
        return "–"
    if not cell.values:
        if cell.errors:
            return f"error: {short(cell.errors[0], 60)}"
        return "n/a"
    text = fmt(cell.median, kind)
    if cell.spread is not None and len(cell.values) > 1:
        text += f" ±{cell.spread * 100:.0f}%"
    if len(cell.values) < cell.runs:
        text += f" ({len(cell.values)}/{cell.runs} runs ok)"
    return text


def short(error: str, limit: int = 90) -> str:
    error = error.replace("|", "/").replace("\n", " ")
    return error if len(error) <= limit else error[: limit - 1] + "…"


def best_peer(
    agg: dict[str, dict[str, Cell]],
    rows: list[dict[str, Any]],
    engine: str,
    metric: str,
    higher: bool,
) -> tuple[str, float] | None:
    """The best peer median of ``metric`` on ``engine`` (name, value)."""
    found = []
    for row in rows:
        if row["engine"] != engine or row["is_omniq"]:
            continue
        cell = agg.get(row["name"], {}).get(metric)
        if cell is not None and cell.median is not None:
            found.append((row["name"], cell.median))
    if not found:
        return None
    return (max if higher else min)(found, key=lambda item: item[1])


def bulk_or_one(agg: dict[str, dict[str, Cell]], name: str) -> float | None:
    """A row's best enqueue figure: bulk where it has a bulk API, else one by one."""
    cells = agg.get(name, {})
    bulk = cells.get("enqueue_bulk_per_s")
    if bulk is not None and bulk.median is not None:
        return bulk.median
    one = cells.get("enqueue_one_per_s")
    return one.median if one is not None else None


TARGETS_P50_MS = {"redis": 1.0, "sqlite": 1.0, "postgres": 3.0}
#: The thread-pool worker of a ``-sync`` row drains within this factor of the async worker.
THREAD_POOL_FACTOR = 1.5


def async_twin(row: dict[str, Any]) -> str | None:
    """The async row a ``-sync`` row is measured against (None for other rows)."""
    name = row["name"]
    return name.removesuffix("-sync") if name.endswith("-sync") else None


def ratio_rows(agg: dict[str, dict[str, Cell]], rows: list[dict[str, Any]]) -> list[list[str]]:
    """The "OmniQ over best peer" table, with the issues' targets and whether each is met."""
    out: list[list[str]] = []

    def add(
        engine: str,
        figure: str,
        ours: float | None,
        peer: tuple[str, float] | None,
        kind: str,
        target: str,
        met: Callable[[float, float], bool],
        needs_peer: bool = True,
    ) -> None:
        """``met(ours, peer)`` says whether the target is met (peer 0 when there is none)."""
        ratio = None
        if ours is not None and peer is not None and peer[1]:
            ratio = ours / peer[1]
        ok = None
        if ours is not None and (peer is not None or not needs_peer):
            ok = met(ours, peer[1] if peer else 0.0)
        out.append(
            [
                engine,
                figure,
                fmt(ours, kind),
                f"{fmt(peer[1], kind)} ({peer[0]})" if peer else "–",
                f"{ratio:.2f}×" if ratio is not None else "–",
                target,
                "–" if ok is None else ("yes" if ok else "**no**"),
            ]
        )

    for row in rows:
        if not row["is_omniq"]:
            continue
        name, engine = row["name"], row["engine"]
        twin = async_twin(row)
        client = "sync client" if twin else "async client"
        cells = agg.get(name, {})
        has_peers = any(r["engine"] == engine and not r["is_omniq"] for r in rows)

        def med(metric: str, cells: dict[str, Cell] = cells) -> float | None:
            cell = cells.get(metric)
            return cell.median if cell is not None else None

        if twin:
            cell = agg.get(twin, {}).get("processed_per_s")
            ref = (f"{twin}, async worker", cell.median) if cell and cell.median else None
            add(engine, "processed /s, thread-pool worker", med("processed_per_s"), ref, "rate",
                f"≥ async worker ÷ {THREAD_POOL_FACTOR:g} (the ratio's reference)",
                lambda o, p: o * THREAD_POOL_FACTOR >= p)
        elif has_peers:
            peer = best_peer(agg, rows, engine, "processed_per_s", True)
            add(engine, "processed /s", med("processed_per_s"), peer, "rate", "≥ 3× best peer",
                lambda o, p: o >= 3 * p)
        if has_peers:
            peer = best_peer(agg, rows, engine, "p50_ms", False)
            limit = TARGETS_P50_MS.get(engine, math.inf)
            add(engine, f"p50 latency ms, {client}", med("p50_ms"), peer, "ms",
                "≤ best peer" + (f", < {limit:g} ms" if limit < math.inf else ""),
                lambda o, p, limit=limit: o <= p and o < limit)
            one = best_peer(agg, rows, engine, "enqueue_one_per_s", True)
            add(engine, f"enqueue one by one /s, {client}", med("enqueue_one_per_s"), one,
                "rate", "≥ best peer", lambda o, p: o >= p)
            peers = [
                (r["name"], v)
                for r in rows
                if r["engine"] == engine
                and not r["is_omniq"]
                and (v := bulk_or_one(agg, r["name"])) is not None
            ]
            bpeer = max(peers, key=lambda p: p[1]) if peers else None
            add(engine, f"enqueue bulk /s, {client}", med("enqueue_bulk_per_s"), bpeer, "rate",
                "≥ 5× best peer (its bulk, else one by one)", lambda o, p: o >= 5 * p)
            add(engine, f"enqueue from concurrent producers /s, {client}",
                med("enqueue_concurrent_per_s"), one, "rate", "≥ 5× best peer one by one",
                lambda o, p: o >= 5 * p)
        if not twin:
            add(engine, "claim cost large / small backlog", med("large_over_small"), None, "x",
                "≤ 1.5×", lambda o, _: o <= 1.5, needs_peer=False)
        add(engine, f"1,000 × 10 ms at concurrency 100, wall s ({client})", med("wall_s"),
            None, "s", "≤ 0.2 s (2× ideal)", lambda o, _: o <= 0.2, needs_peer=False)
    return out


def sync_rows(agg: dict[str, dict[str, Cell]], rows: list[dict[str, Any]]) -> list[list[str]]:
    """Each ``-sync`` row beside its async row: the same figures, and sync over async."""
    out: list[list[str]] = []
    figures = [
        ("enqueue_one_per_s", "enqueue one by one /s", "rate"),
        ("enqueue_bulk_per_s", "enqueue bulk /s", "rate"),
        ("enqueue_concurrent_per_s", "enqueue from concurrent producers /s", "rate"),
        ("processed_per_s", "processed /s (1 worker)", "rate"),
        ("p50_ms", "p50 ms", "ms"),
        ("p99_ms", "p99 ms", "ms"),
        ("wall_s", "1,000 × 10 ms at concurrency 100, wall s", "s"),
    ]
    for row in rows:
        twin = async_twin(row)
        if twin is None:
            continue
        for metric, label, kind in figures:
            ours = agg.get(row["name"], {}).get(metric)
            theirs = agg.get(twin, {}).get(metric)
            ratio = "–"
            if ours and theirs and ours.median is not None and theirs.median:
                ratio = f"{ours.median / theirs.median:.2f}×"
            out.append([row["engine"], label, cell_text(theirs, kind), cell_text(ours, kind),
                        ratio])
    return out


def table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def sorted_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        rows,
        key=lambda r: (
            ENGINE_ORDER.index(r["engine"]) if r["engine"] in ENGINE_ORDER else 99,
            not r["is_omniq"],
            r["name"],
        ),
    )


def render_markdown(
    meta: dict[str, Any], rows: list[dict[str, Any]], agg: dict[str, dict[str, Cell]]
) -> str:
    rows = sorted_rows(rows)
    parts: list[str] = ["# OmniQ benchmark: results of the latest full run", ""]
    parts.append(
        "Written by `python bench/run.py` (see `bench/README.md` for what each workload does "
        "and how it is timed). Medians over the runs shown; `±x%` is the half-range of the "
        "runs over the median. A cell that says `error` is a failure of that row, with its "
        "reason, never a number.\n"
    )
    parts.append("## Machine and run\n")
    parts.append(table(["", ""], [[k, str(v)] for k, v in meta.items()]))
    parts.append("")

    def row_cells(metric: str, kind: str, row: dict[str, Any]) -> str:
        return cell_text(agg.get(row["name"], {}).get(metric), kind)

    def drained_cells(metric: str, drained: str, row: dict[str, Any]) -> str:
        """A drain rate, marked when the drain was stopped by the cap before the end."""
        cells = agg.get(row["name"], {})
        text = cell_text(cells.get(metric), "rate")
        done, total = cells.get(drained), cells.get("tasks")
        if done and total and done.values and total.median and done.median < total.median:
            text += f" (capped: {done.median:,.0f}/{total.median:,.0f} done)"
        return text

    def ratio_text(metric: str, higher: bool, row: dict[str, Any]) -> str:
        if not row["is_omniq"]:
            return ""
        cell = agg.get(row["name"], {}).get(metric)
        peer = best_peer(agg, rows, row["engine"], metric, higher)
        if cell is None or cell.median is None or peer is None or not peer[1]:
            return "–"
        return f"{cell.median / peer[1]:.2f}× {peer[0]}"

    parts.append("## OmniQ against the best peer on the same engine\n")
    parts.append(
        "Ratio = OmniQ's median over the best peer's median on the same engine (for "
        "throughput higher is better, for latency lower is better). The async client rows are "
        "`AsyncOmniQ` with `async def` tasks and the async worker; the sync client rows are "
        "the blocking `OmniQ` with plain `def` tasks and the thread-pool worker. Targets are "
        "issue 20's (issue 7's for processed /s, claim cost and the concurrency run).\n"
    )
    parts.append(
        table(
            ["engine", "figure", "OmniQ", "best peer", "ratio", "target", "met"],
            ratio_rows(agg, rows),
        )
    )
    parts.append("")
    body = sync_rows(agg, rows)
    if body:
        parts.append("## Sync and async side by side\n")
        parts.append(
            "The blocking `OmniQ` client with plain task functions and `omniq worker --type "
            "thread_pool` (sync), beside `AsyncOmniQ` with `async def` tasks and `--type async` "
            "(async), in the same run. Producers: 100 coroutines (async) or 16 threads (sync) "
            "of one process, each enqueueing one by one.\n"
        )
        parts.append(table(["engine", "figure", "async", "sync", "sync ÷ async"], body))
        parts.append("")
    # Profiles of the targets missed are written by hand (they need a profiler, not a
    # stopwatch), beside this script; each run carries the latest into RESULTS.md.
    if MISSES.exists():
        parts.append(MISSES.read_text().strip() + "\n")

    parts.append(f"## Throughput: {meta.get('tasks', '?')} no-op tasks, then one worker process\n")
    body = []
    for r in rows:
        body.append(
            [
                r["engine"],
                r["name"],
                row_cells("enqueue_one_per_s", "rate", r),
                row_cells("enqueue_bulk_per_s", "rate", r)
                if r["supports_bulk"]
                else "n/a (no bulk API)",
                drained_cells("processed_per_s", "drained", r),
                ratio_text("processed_per_s", True, r),
            ]
        )
    parts.append(
        table(
            [
                "engine",
                "system",
                "enqueue one by one /s",
                "enqueue bulk /s",
                "processed /s",
                "ratio (processed)",
            ],
            body,
        )
    )
    parts.append("")

    parts.append("## Parallel workers: the same drain with 2 worker processes\n")
    body = []
    for r in rows:
        one = agg.get(r["name"], {}).get("processed_per_s")
        two = agg.get(r["name"], {}).get("processed_2w_per_s")
        speedup = "–"
        if one and two and one.median and two.median:
            speedup = f"{two.median / one.median:.2f}×"
        body.append(
            [
                r["engine"],
                r["name"],
                drained_cells("processed_per_s", "drained", r),
                drained_cells("processed_2w_per_s", "drained_2w", r),
                speedup,
            ]
        )
    parts.append(table(["engine", "system", "1 worker /s", "2 workers /s", "2 ÷ 1"], body))
    parts.append("")

    parts.append("## Latency: idle worker, tasks one after another, enqueue to result\n")
    body = [
        [
            r["engine"],
            r["name"],
            row_cells("p50_ms", "ms", r),
            row_cells("p99_ms", "ms", r),
            ratio_text("p50_ms", False, r),
        ]
        for r in rows
    ]
    parts.append(table(["engine", "system", "p50 ms", "p99 ms", "ratio (p50)"], body))
    parts.append("")

    parts.append("## Concurrency: 1,000 tasks sleeping 10 ms, one worker at concurrency 100\n")
    body = []
    for r in rows:
        cells = agg.get(r["name"], {})
        eff = cells.get("effective_concurrency")
        wall = row_cells("wall_s", "s", r)
        more, done = cells.get("wall_more_than_s"), cells.get("done")
        over = row_cells("wall_over_ideal", "x", r)
        if more and more.values and not cells["wall_s"].values:
            wall = f"> {min(more.values):.1f} (capped: {done.median:,.0f}/1,000 done)"
            over = f"> {min(more.values) / 0.1:.0f}×"
        body.append(
            [
                r["engine"],
                r["name"],
                wall,
                over,
                fmt(eff.median, "rate") if eff and eff.median else "–",
                "async" if r["async_tasks"] else "time.sleep on threads",
            ]
        )
    parts.append(
        table(["engine", "system", "wall s", "× ideal (0.1 s)", "runs at once", "task"], body)
    )
    parts.append("")

    parts.append(
        f"## Scale with depth: claim cost with {meta.get('depth small', '?')} vs "
        f"{meta.get('depth large', '?')} tasks waiting\n"
    )
    body = [
        [
            r["engine"],
            r["name"],
            row_cells("ms_per_task_small", "ms3", r),
            row_cells("ms_per_task_large", "ms3", r),
            row_cells("large_over_small", "x", r),
        ]
        for r in rows
        if "depth" in r["workloads"]
    ]
    parts.append(
        table(["engine", "system", "ms/task, small", "ms/task, large", "large / small"], body)
    )
    parts.append("")

    parts.append("## Versions and settings of each system\n")
    body = []
    for r in rows:
        versions = ", ".join(f"{k} {v}" for k, v in r.get("versions", {}).items())
        settings = "; ".join(f"{k}: {v}" for k, v in r.get("settings", {}).items())
        if r.get("note"):
            settings += f"; note: {r['note']}"
        body.append([r["name"], versions or "–", settings.replace("|", "/") or "–"])
    parts.append(table(["system", "versions", "settings"], body))
    parts.append("")

    errors = []
    for r in rows:
        seen = set()
        for cell in agg.get(r["name"], {}).values():
            for err in cell.errors:
                if err not in seen:
                    seen.add(err)
                    errors.append(f"- **{r['name']}**: {short(err, 300)}")
    if errors:
        parts.append("## Errors\n")
        parts.extend(errors)
        parts.append("")
    return "\n".join(parts) + "\n"


def render_json(
    meta: dict[str, Any], rows: list[dict[str, Any]], agg: dict[str, dict[str, Cell]]
) -> dict[str, Any]:
    return {
        "meta": meta,
        "rows": [
            {**r, "metrics": {m: c.as_json() for m, c in agg.get(r["name"], {}).items()}}
            for r in sorted_rows(rows)
        ],
        "omniq_vs_best_peer": [
            dict(
                zip(
                    ["engine", "figure", "omniq", "best_peer", "ratio", "target", "met"],
                    line,
                    strict=True,
                )
            )
            for line in ratio_rows(agg, rows)
        ],
    }
