"""Run one workload once for one system, in that system's interpreter; print the result as JSON.

``bench/run.py`` starts this script with the OmniQ interpreter for OmniQ rows and with
``bench/.venv-peers/bin/python`` for the peers, one process per (system, workload, repeat), so a
peer that hangs or crashes cannot take the others with it. The last line of stdout is
``BENCH_RESULT {json}``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _workloads import WORKLOADS, Config  # noqa: E402
from systems._base import BenchEnv, System  # noqa: E402


def load_row(spec: str) -> type[System]:
    """``module:row`` (e.g. ``rq:rq-simple``) to the System class."""
    module_name, _, row = spec.partition(":")
    module = importlib.import_module(f"systems.{module_name}")
    return module.ROWS[row or module_name]


async def run(args: argparse.Namespace) -> dict[str, object]:
    cfg = Config(
        tasks=args.tasks,
        concurrency=args.concurrency,
        depth_large=args.depth_large,
        depth_samples=args.depth_samples,
        drain_cap_s=args.drain_cap or None,
        deadline=time.monotonic() + args.time_limit,
        log_prefix=args.log_prefix,
        pid_file=args.pid_file,
    )
    system = load_row(args.system)(BenchEnv.from_environ())
    out: dict[str, object] = {
        "system": system.name,
        "engine": system.engine,
        "versions": system.versions(),
        "settings": system.settings(cfg.concurrency),
        "supports_bulk": system.supports_bulk,
        "async_tasks": system.async_tasks,
    }
    if system.supports_bulk:
        out["settings"]["bulk"] = system.bulk_api  # type: ignore[index]
    if args.describe:
        return out
    await system.open()
    try:
        await system.reset()
        out["metrics"] = await WORKLOADS[args.workload](system, cfg)
    finally:
        try:
            await system.reset()
        finally:
            await system.close()
            await system.cleanup()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--system", required=True, help="module:row, e.g. rq:rq-simple")
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="throughput")
    parser.add_argument("--describe", action="store_true", help="print versions and settings")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--depth-large", type=int, default=100_000)
    parser.add_argument("--depth-samples", type=int, default=3)
    parser.add_argument("--drain-cap", type=float, default=10.0)
    parser.add_argument("--time-limit", type=float, default=180.0)
    parser.add_argument("--log-prefix", default="/tmp/omniq-bench-worker")
    parser.add_argument("--pid-file", default="/tmp/omniq-bench-pids")
    args = parser.parse_args()
    try:
        result = asyncio.run(run(args))
        result["ok"] = True
    except BaseException as exc:  # reported as the cell's reason, never as a number
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
        traceback.print_exc()
    print("BENCH_RESULT " + json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
