#!/usr/bin/env python3
"""OmniQ against Celery, RQ, Dramatiq, arq, SAQ, taskiq, Huey and procrastinate, in one run.

    python bench/run.py                      # install peers, check servers, run all, write table
    python bench/run.py --quick              # smoke run: small sizes, one run each
    python bench/run.py --systems huey,omniq-redis --workloads latency

Installs the peers into ``bench/.venv-peers`` (from ``requirements-peers.txt``), checks Redis,
PostgreSQL and NATS, runs every workload for every system (each run in its own client process
with a time limit), and writes ``bench/RESULTS.md`` and ``bench/results/latest.json``. OmniQ rows
run with ``--omniq-python`` (default: this interpreter), peers with the peers' venv.
Standard library only.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

import _report  # noqa: E402
from _moto import moto_server  # noqa: E402
from _procs import kill_groups_from_file  # noqa: E402

VENV = os.path.join(BENCH, ".venv-peers")
REQS = os.path.join(BENCH, "requirements-peers.txt")
REQS_NODEPS = os.path.join(BENCH, "requirements-peers-nodeps.txt")
ALL_WORKLOADS = ["throughput", "parallel", "latency", "concurrency", "depth", "producers"]
NO_DEPTH = ["throughput", "parallel", "latency", "concurrency"]
#: Peers run everything but ``producers`` (OmniQ's coalescing of concurrent enqueues, whose
#: target is set against the peers' one-by-one rate).
WITH_DEPTH = [*NO_DEPTH, "depth"]
#: Per-workload time limit in seconds (a broken peer becomes an error cell, not a hang).
TIME_LIMITS = {
    "throughput": 240,
    "parallel": 200,
    "latency": 120,
    "concurrency": 120,
    "depth": 420,
    "producers": 120,
}


@dataclass
class Row:
    """One system on one engine, as the table shows it."""

    name: str
    spec: str  # module:row for _client.py
    interp: str  # "omniq" or "peers"
    engine: str
    env: dict[str, str] = field(default_factory=dict)
    workloads: list[str] = field(default_factory=lambda: list(NO_DEPTH))
    tasks: int | None = None  # overrides --tasks for this row
    note: str = ""


def _omniq(engine: str, name: str | None = None, workloads: list[str] | None = None,
           sync: bool = False, **extra: Any) -> Row:
    """OmniQ on ``engine``; ``sync``: the blocking client, plain functions and the thread-pool
    worker, on every workload but depth and parallel (the claims those time are the same)."""
    workloads = list(workloads or ALL_WORKLOADS)
    if engine == "memory":  # one process only: no second worker process
        workloads.remove("parallel")
    if sync:
        workloads = [w for w in workloads if w not in ("depth", "parallel")]
    name = name or f"omniq-{engine}" + ("-sync" if sync else "")
    return Row(name, f"omniq:{name}", "omniq", engine, {"BENCH_OMNIQ_ENGINE": engine},
               workloads, **extra)


ROWS: list[Row] = [
    _omniq("memory"),
    _omniq("redis"),
    _omniq("redis", sync=True),
    _omniq("postgres"),
    _omniq("postgres", sync=True),
    _omniq("sqlite"),
    _omniq("sqlite", sync=True),
    _omniq("nats"),
    _omniq("nats", sync=True),
    _omniq("file"),
    # Every S3 call is an HTTP round trip to moto (a Python server sharing the 2 cores), so
    # drains are 2,000 tasks and no depth workload (bench/scale_file.py --s3 measures that).
    _omniq("s3", "omniq-file-s3", workloads=list(NO_DEPTH), tasks=2_000,
           note="S3 through moto's server on loopback (run.py starts it)"),
    Row("celery", "celery:celery", "peers", "redis"),
    Row("rq", "rq:rq", "peers", "redis"),
    Row("rq-simple", "rq:rq-simple", "peers", "redis"),
    Row("dramatiq", "dramatiq:dramatiq", "peers", "redis"),
    Row("arq", "arq:arq", "peers", "redis"),
    Row("saq", "saq:saq", "peers", "redis"),
    Row("taskiq-redis", "taskiq_redis:taskiq-redis", "peers", "redis"),
    Row(
        "huey",
        "huey:huey",
        "peers",
        "redis",
        {"BENCH_HUEY_ENGINE": "redis"},
        workloads=list(WITH_DEPTH),
    ),
    Row(
        "procrastinate",
        "procrastinate:procrastinate",
        "peers",
        "postgres",
        workloads=list(WITH_DEPTH),
    ),
    Row("saq-postgres", "saq:saq-postgres", "peers", "postgres"),
    Row(
        "huey-sqlite",
        "huey:huey-sqlite",
        "peers",
        "sqlite",
        {"BENCH_HUEY_ENGINE": "sqlite"},
        workloads=list(WITH_DEPTH),
    ),
    Row("taskiq-nats", "taskiq_nats:taskiq-nats", "peers", "nats", workloads=list(WITH_DEPTH)),
    Row(
        "huey-file",
        "huey:huey-file",
        "peers",
        "file",
        {"BENCH_HUEY_ENGINE": "file"},
        workloads=list(WITH_DEPTH),
    ),
]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# -- setup -----------------------------------------------------------------------------------
def install_peers(force: bool) -> str:
    """Create/refresh bench/.venv-peers from the requirement files; return its python."""
    python = os.path.join(VENV, "bin", "python")
    digest = hashlib.sha256()
    for path in (REQS, REQS_NODEPS):
        with open(path, "rb") as fh:
            digest.update(fh.read())
    stamp = os.path.join(VENV, ".bench-requirements.sha256")
    if not force and os.path.exists(python) and os.path.exists(stamp):
        with open(stamp) as fh:
            if fh.read().strip() == digest.hexdigest():
                return python
    log(f"installing peers into {VENV}")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", REQS], check=True)
    subprocess.run([*pip, "--no-deps", "-r", REQS_NODEPS], check=True)
    with open(stamp, "w") as fh:
        fh.write(digest.hexdigest())
    return python


def check_servers(peers_python: str, env: dict[str, str], cleanup: bool = False) -> dict:
    argv = [
        peers_python,
        os.path.join(BENCH, "_prep.py"),
        "--redis-url",
        env["BENCH_REDIS_URL"],
        "--pg-dsn",
        env["BENCH_PG_DSN"],
        "--nats-url",
        env["BENCH_NATS_URL"],
    ]
    if cleanup:
        argv.append("--cleanup")
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise SystemExit(f"server check failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine_info() -> dict[str, str]:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
            mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


# -- running ---------------------------------------------------------------------------------
def python_version(python: str) -> str:
    """What ``python --version`` would say, e.g. ``3.11.7``."""
    return subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                          capture_output=True, text=True).stdout.strip()


def run_client(
    row: Row,
    python: str,
    workload: str | None,
    args: argparse.Namespace,
    base_env: dict[str, str],
    run_dir: str,
    repeat: int,
) -> dict:
    """One client process: describe a row (workload None) or run one workload once."""
    ns = "b" + uuid.uuid4().hex[:10]
    env = {**os.environ, **base_env, **row.env, "BENCH_NS": ns}
    if row.interp == "omniq":
        env.setdefault("OMNIQ_SECRET_KEY", "omniq-bench-" + "0" * 32)
        if args.profile:
            env["BENCH_PROFILE_DIR"] = run_dir
    label = f"{row.name}-{workload or 'describe'}-{repeat}"
    pid_file = os.path.join(run_dir, f"{label}.pids")
    tasks = row.tasks or args.tasks
    limit = TIME_LIMITS.get(workload or "", 60) * args.time_scale
    argv = [
        python,
        os.path.join(BENCH, "_client.py"),
        "--system",
        row.spec,
        "--tasks",
        str(tasks),
        "--concurrency",
        str(args.concurrency),
        "--depth-large",
        str(args.depth_large),
        "--depth-samples",
        str(args.repeats),
        "--drain-cap",
        str(args.drain_cap),
        "--time-limit",
        str(limit),
        "--log-prefix",
        os.path.join(run_dir, label),
        "--pid-file",
        pid_file,
    ]
    argv += ["--workload", workload] if workload else ["--describe"]
    started = time.monotonic()
    load = os.getloadavg()[0]  # kept with the run: other work on the machine skews figures
    with open(os.path.join(run_dir, f"{label}.client.log"), "w") as err:
        try:
            proc = subprocess.run(
                argv,
                cwd=BENCH,
                env=env,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                timeout=limit + 60,
                start_new_session=True,
            )
            out = proc.stdout
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            out += "\nBENCH_RESULT " + json.dumps(
                {"ok": False, "error": f"client killed after {limit + 60:.0f} s"}
            )
        finally:
            kill_groups_from_file(pid_file)  # any worker a killed client left behind
    result = {"ok": False, "error": "client printed no result (see its log)"}
    for line in out.splitlines():
        if line.startswith("BENCH_RESULT "):
            result = json.loads(line[len("BENCH_RESULT ") :])
    result["seconds"] = round(time.monotonic() - started, 1)
    result["load_before"] = round(load, 2)
    return result


def _load_summary(raw: list[dict]) -> str:
    """Other work on the machine shows here (the bench alone keeps it near 1-2 on 2 cores)."""
    loads = sorted(r["load_before"] for r in raw if "load_before" in r)
    if not loads:
        return "–"
    return f"{loads[0]:.2f} / {loads[len(loads) // 2]:.2f} / {loads[-1]:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--systems", help="comma-separated row names (default: all)")
    parser.add_argument("--skip", help="comma-separated row names to leave out")
    parser.add_argument("--workloads", help=f"comma-separated, from {ALL_WORKLOADS}")
    parser.add_argument("--repeats", type=int, default=3, help="runs per cell (default 3)")
    parser.add_argument("--tasks", type=int, default=10_000, help="no-op tasks per drain")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=10,
        help="worker concurrency for the no-op workloads (default 10)",
    )
    parser.add_argument(
        "--depth-large",
        type=int,
        default=100_000,
        help="large backlog of the depth workload (default 100,000; "
        "1,000,000 works but fills take minutes per peer)",
    )
    parser.add_argument(
        "--drain-cap",
        type=float,
        default=10.0,
        help="stop a drain this many seconds after its first completion and take the rate "
        "over the tasks done by then (default 10; 0 = always drain everything)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run OmniQ's worker processes under cProfile; .prof files go to the raw run dir",
    )
    parser.add_argument(
        "--omniq-python",
        default=sys.executable,
        help="interpreter with omniq installed (default: this one)",
    )
    parser.add_argument("--redis-db", type=int, default=15, help="the bench's own Redis db")
    parser.add_argument("--redis", default="127.0.0.1:6379")
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432",
        help="server URL; the bench creates and uses its own database (--pg-database)",
    )
    parser.add_argument(
        "--pg-database",
        default="omniq_bench",
        help="the bench's own PostgreSQL database (created, and emptied before and after)",
    )
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="multiply every workload's time limit"
    )
    parser.add_argument("--reinstall", action="store_true", help="reinstall the peers")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1,000 tasks, depth 10,000, one run"
    )
    parser.add_argument("--output", default=BENCH, help="where RESULTS.md and results/ go")
    args = parser.parse_args()
    # Its workers start in other directories: a relative path (.venv/bin/python) must not
    # change meaning there.
    found = shutil.which(args.omniq_python)
    if found is None:
        parser.error(f"--omniq-python {args.omniq_python}: no such interpreter (give a path "
                     "to a python with omniq installed, e.g. .venv/bin/python)")
    args.omniq_python = os.path.abspath(found)
    if args.quick:
        args.tasks, args.depth_large, args.repeats = 1_000, 10_000, 1

    rows = ROWS
    if args.systems:
        wanted = set(args.systems.split(","))
        unknown = wanted - {r.name for r in ROWS}
        if unknown:
            parser.error(f"unknown systems {sorted(unknown)}; known: {[r.name for r in ROWS]}")
        rows = [r for r in ROWS if r.name in wanted]
    if args.skip:
        rows = [r for r in rows if r.name not in set(args.skip.split(","))]
    workloads = args.workloads.split(",") if args.workloads else ALL_WORKLOADS

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    run_dir = os.path.join(args.output, "results", "raw", stamp)
    os.makedirs(run_dir, exist_ok=True)
    sqlite_dir = tempfile.mkdtemp(prefix="omniq-bench-")
    base_env = {
        "BENCH_REDIS_URL": f"redis://{args.redis}/{args.redis_db}",
        "BENCH_PG_DSN": f"{args.postgres.rstrip('/')}/{args.pg_database}",
        "BENCH_NATS_URL": args.nats,
        "BENCH_SQLITE_DIR": sqlite_dir,
    }
    machine = machine_info()  # now, so its load average is the one before the run
    peers_python = install_peers(args.reinstall)
    servers = check_servers(peers_python, base_env)
    for engine, state in servers.items():
        log(f"{engine}: {'up, ' + str(state.get('version')) if state['ok'] else state['error']}")
    pythons = {"omniq": args.omniq_python, "peers": peers_python}
    # S3 rows run against moto's server on loopback, one for the whole run (stopped at exit).
    if any(r.engine == "s3" for r in rows):
        s3 = contextlib.ExitStack()
        atexit.register(s3.close)
        base_env["BENCH_S3_URL"] = s3.enter_context(moto_server(args.omniq_python))
        log(f"s3: moto server at {base_env['BENCH_S3_URL']}")

    # Describe every row once (versions and settings, from its own interpreter).
    described: list[dict] = []
    for row in rows:
        info = run_client(row, pythons[row.interp], None, args, base_env, run_dir, 0)
        described.append(
            {
                "name": row.name,
                "engine": row.engine,
                "is_omniq": row.interp == "omniq",
                "interpreter": row.interp,  # which venv: "omniq" or "peers"
                "workloads": row.workloads,
                "tasks": row.tasks or args.tasks,
                "note": row.note,
                "versions": info.get("versions", {}),
                "settings": info.get("settings", {}),
                "supports_bulk": bool(info.get("supports_bulk", True)),
                "async_tasks": bool(info.get("async_tasks", False)),
                "describe_error": None if info.get("ok") else info.get("error"),
            }
        )

    raw: list[dict] = []
    failed: set[tuple[str, str]] = set()
    failures: dict[tuple[str, str], int] = {}
    t_start = time.monotonic()
    # Repeats are interleaved (all rows once, then again) so slow drifts hit every row alike.
    for repeat in range(1, args.repeats + 1):
        for row, desc in zip(rows, described, strict=True):
            for workload in workloads:
                if workload not in row.workloads or (row.name, workload) in failed:
                    continue
                if workload == "depth" and repeat > 1:
                    continue  # one depth run takes all its samples (the large fill is shared)
                server = servers.get(row.engine, {"ok": True})
                if not server["ok"]:
                    result = {"ok": False, "error": f"{row.engine} server: {server['error']}"}
                elif desc["describe_error"]:
                    result = {"ok": False, "error": desc["describe_error"]}
                else:
                    result = run_client(
                        row, pythons[row.interp], workload, args, base_env, run_dir, repeat
                    )
                samples = (result.get("metrics") or {}).get("samples")
                if result.get("ok") and samples:
                    for i, sample in enumerate(samples, 1):
                        raw.append(
                            {
                                "row": row.name,
                                "workload": workload,
                                "repeat": i,
                                **result,
                                "metrics": sample,
                            }
                        )
                else:
                    raw.append({"row": row.name, "workload": workload, "repeat": repeat, **result})
                summary = result.get("metrics") if result.get("ok") else result.get("error")
                log(
                    f"run {repeat}/{args.repeats} {row.name:<15} {workload:<12} "
                    f"{result.get('seconds', 0):>6}s  {summary}"
                )
                if not result.get("ok"):
                    # A second failure, or one that ran into a time limit, is not retried: no
                    # point spending the limit again. A one-off failure is (flaky peers).
                    failures[(row.name, workload)] = failures.get((row.name, workload), 0) + 1
                    if failures[(row.name, workload)] >= 2 or result.get("seconds", 0) > 60:
                        failed.add((row.name, workload))

    check_servers(peers_python, base_env, cleanup=True)
    shutil.rmtree(sqlite_dir, ignore_errors=True)
    with open(os.path.join(run_dir, "raw.json"), "w") as fh:
        json.dump({"rows": described, "runs": raw}, fh, indent=1, default=str)

    meta = {
        "date (UTC)": stamp,
        **machine,
        # Versions, not paths: the table is committed, and paths are this machine's own.
        **{f"python ({name})": python_version(python) for name, python in pythons.items()},
        **{f"{k} server": v.get("version", v.get("error")) for k, v in servers.items()},
        "command": "python bench/run.py " + " ".join(sys.argv[1:]),
        "runs per cell": args.repeats,
        "tasks": f"{args.tasks:,}",
        "drain cap (s after first completion)": args.drain_cap or "off",
        "concurrency (no-op workloads)": args.concurrency,
        "depth small": "1,000",
        "depth large": f"{args.depth_large:,}",
        "wall time of the run": f"{(time.monotonic() - t_start) / 60:.1f} min",
        "load average at end": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "1-min load before each run (min / median / max)": _load_summary(raw),
    }
    agg = _report.aggregate(raw)
    os.makedirs(os.path.join(args.output, "results"), exist_ok=True)
    with open(os.path.join(args.output, "results", "latest.json"), "w") as fh:
        json.dump(_report.render_json(meta, described, agg), fh, indent=1, default=str)
    with open(os.path.join(args.output, "RESULTS.md"), "w") as fh:
        fh.write(_report.render_markdown(meta, described, agg))
    log(
        f"wrote {os.path.join(args.output, 'RESULTS.md')} and results/latest.json "
        f"(raw runs and worker logs in {run_dir})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
