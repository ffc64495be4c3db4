"""The interface every benchmarked system implements, and the settings every run shares.

Each row of the results table is one ``System`` subclass instance (a module under
``bench/systems/`` may define several rows, e.g. RQ's forking worker and SimpleWorker).
This module is imported by both interpreters (OmniQ's venv and the peers' venv), so it uses the
standard library only.

A system module is imported twice: by the benchmark client (``bench/_client.py``), which enqueues
and waits, and by the worker processes the client spawns with the system's own worker CLI. Both
read their connection settings from the ``BENCH_*`` environment variables set by the client, so
the app objects the worker CLIs need (a Celery app, a Huey instance, ...) can be built at import
time, as each peer's docs show.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from importlib import metadata
from typing import Any

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Seconds between polls when a peer's own "wait for the result" API polls and takes an
#: interval (arq, taskiq, SAQ on Postgres, Huey on SQLite, procrastinate). One value for all.
RESULT_POLL_S = 0.001

#: Seconds between polls of the queue by an idle worker, for peers whose worker polls and lets
#: the interval be set (arq's ``poll_delay``, Huey's consumer on SQLite). One value for all.
WORKER_POLL_S = 0.001


@dataclass(frozen=True)
class BenchEnv:
    """Connection settings and the per-run namespace, read from ``BENCH_*`` variables."""

    ns: str
    redis_url: str
    pg_dsn: str
    sqlite_dir: str
    nats_url: str

    @classmethod
    def from_environ(cls) -> BenchEnv:
        return cls(
            ns=os.environ.get("BENCH_NS", "benchdev"),
            redis_url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"),
            pg_dsn=os.environ.get(
                "BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/omniq_bench"
            ),
            sqlite_dir=os.environ.get("BENCH_SQLITE_DIR", "/tmp/omniq-bench"),
            nats_url=os.environ.get("BENCH_NATS_URL", "nats://127.0.0.1:4222"),
        )


def dist_versions(*names: str) -> dict[str, str]:
    """Installed versions of the named distributions (``"missing"`` when absent)."""
    out: dict[str, str] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


class System:
    """One row of the table: a task queue on one engine, driven through its public API.

    Handles returned by ``enqueue`` are whatever the system's API returns (a job object, an id);
    the harness only passes them back to ``wait_result`` and ``done_flags``.
    """

    #: Row label, e.g. ``"huey-redis"``.
    name: str = "?"
    #: Storage engine: ``redis``, ``postgres``, ``sqlite``, ``nats`` or ``memory``.
    engine: str = "?"
    #: True for OmniQ rows (the ratio column compares them with the best peer).
    is_omniq: bool = False
    #: Whether the system offers a bulk enqueue API (else the bulk cell says "n/a").
    supports_bulk: bool = False
    #: How the bulk API is called, for the settings column.
    bulk_api: str = ""
    #: Whether the sleep task is ``async def`` (else ``time.sleep`` on the worker's threads).
    async_tasks: bool = False
    #: A fixed concurrency the system cannot change (RQ runs one job at a time), else None.
    fixed_concurrency: int | None = None
    #: True when the worker must run inside the client process (OmniQ's memory backend).
    inprocess_worker: bool = False

    def __init__(self, env: BenchEnv) -> None:
        self.env = env
        self.queue_name = env.ns

    # -- description -------------------------------------------------------------------------
    def versions(self) -> dict[str, str]:
        """Versions of the packages this row runs on."""
        return {}

    def settings(self, concurrency: int) -> dict[str, str]:
        """The settings in force, in words, for the results table."""
        return {}

    # -- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        """Connect; create whatever the system needs (schema, stream, consumer group)."""

    async def close(self) -> None:
        """Disconnect."""

    async def reset(self) -> None:
        """Remove every task, result and counter of this run, leaving the system usable."""
        raise NotImplementedError

    async def cleanup(self) -> None:
        """Remove everything this run created (called once, after ``close``)."""

    # -- producing ---------------------------------------------------------------------------
    async def enqueue(self, kind: str) -> Any:
        """Enqueue one task; ``kind`` is ``"noop"`` (returns 1) or ``"sleep"`` (10 ms)."""
        raise NotImplementedError

    async def enqueue_bulk(self, kind: str, n: int) -> list[Any]:
        """Enqueue ``n`` tasks through the system's bulk API."""
        raise NotImplementedError

    async def enqueue_concurrently(self, kind: str, n: int) -> list[Any]:
        """Enqueue ``n`` tasks one by one from many producers of one process at once (the
        ``producers`` workload; OmniQ rows only)."""
        raise NotImplementedError

    async def wait_result(self, handle: Any, timeout: float) -> Any:
        """Block until the task's result is available and return it (the system's own wait)."""
        raise NotImplementedError

    # -- observing completion ----------------------------------------------------------------
    async def done_count(self) -> int | None:
        """A counter of completed tasks the system keeps (monotonic during a measurement), or
        None when it keeps none (then ``done_flags`` checks each task's result)."""
        return None

    async def waiting_count(self) -> int | None:
        """How many tasks wait in the queue (None when the system cannot say cheaply)."""
        return None

    async def done_flags(self, handles: list[Any]) -> list[bool]:
        """Whether each task's result is stored (batched where the API allows)."""
        raise NotImplementedError

    # -- workers -----------------------------------------------------------------------------
    def worker_argv(self, concurrency: int) -> list[str]:
        """The command line of one worker process (the system's own worker CLI)."""
        raise NotImplementedError

    def worker_env(self) -> dict[str, str]:
        """Extra environment variables for the worker process."""
        return {}

    async def start_inprocess_worker(self, concurrency: int) -> None:
        """Start a worker inside this process (only when ``inprocess_worker``)."""
        raise NotImplementedError

    async def stop_inprocess_worker(self) -> None:
        """Stop the worker started by ``start_inprocess_worker``."""
        raise NotImplementedError


def python_bin() -> str:
    """The interpreter running this process (worker CLIs run from the same virtualenv)."""
    return sys.executable


def venv_script(name: str) -> str:
    """Path of a console script installed next to the running interpreter."""
    return os.path.join(os.path.dirname(sys.executable), name)


def redis_flush_own_db(url: str) -> None:
    """FLUSHDB on the bench's dedicated Redis database, then put the ownership marker back.

    Only ever called with the bench's own db (15 by default, checked by ``bench/run.py`` before
    the run starts: it refuses a database holding keys it did not write).
    """
    import redis  # both venvs have redis-py

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
        client.set(OWNER_KEY, "omniq-bench")
    finally:
        client.close()


#: Key that marks the dedicated Redis database as the bench's own.
OWNER_KEY = "omniq-bench:owner"
