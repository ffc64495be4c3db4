"""OmniQ, on each backend: memory, sqlite, redis, postgres, nats, file (a local directory) and
file on S3 (moto's server on loopback, started by ``run.py``: ``BENCH_S3_URL``); with either
client.

Driven through the public API only: ``AsyncOmniQ(project_name=..., backend_type=..., ...)``,
``enqueue``, ``enqueue_many``, ``get_result``, ``task_queue.count_tasks`` (the completion
counter) and the ``omniq worker`` CLI (``--type async``). The memory backend lives in one
process, so its worker runs inside the client (``start_worker``) and it has no two-process row.

The ``-sync`` rows are the same calls the way most applications make them: the blocking
``OmniQ`` client (as in a Django or Flask view, or a script), plain ``def`` task functions, and
``omniq worker --type thread_pool``. They are called straight from the harness's coroutines,
as the peers' blocking clients are.

The project name is the run's namespace, so every key, table, stream or file the run creates is
its own; ``reset`` closes the app, wipes the engine's state of this run, and opens a new app.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from _moto import BUCKET, s3_options
from omniq import AsyncOmniQ, OmniQ, TaskStatus

from ._base import (
    RESULT_POLL_S,
    WORKER_POLL_S,
    BenchEnv,
    System,
    dist_versions,
    python_bin,
    redis_flush_own_db,
)

_env = BenchEnv.from_environ()
ENGINE = os.environ.get("BENCH_OMNIQ_ENGINE", "memory")
SQLITE_PATH = os.path.join(_env.sqlite_dir, f"{_env.ns}-omniq.db")
FILE_DIR = os.path.join(_env.sqlite_dir, f"{_env.ns}-omniq-files")
#: The engines that are the ``file`` backend, by location.
FILE_ENGINES = ("file", "s3")


def _s3_options() -> dict[str, Any]:
    """For the moto server ``run.py`` started (``bench/_moto.py``)."""
    return s3_options(os.environ.get("BENCH_S3_URL", "http://127.0.0.1:5000"))


def _backend_kwargs(engine: str) -> dict[str, Any]:
    """Connection settings per backend, as ``AsyncOmniQ(**kwargs)`` takes them."""
    if engine == "redis":
        return {"url": _env.redis_url}
    if engine == "postgres":
        return {"url": _env.pg_dsn}
    if engine == "sqlite":
        return {"database_path": SQLITE_PATH}
    if engine == "nats":
        return {"url": _env.nats_url}
    if engine == "file":
        return {"base_dir": FILE_DIR}
    if engine == "s3":
        return {"url": f"s3://{BUCKET}/{_env.ns}", "storage_options": _s3_options()}
    return {}


def make_app() -> AsyncOmniQ:
    """The app the client and ``omniq worker --app systems.omniq:make_app`` both use."""
    return AsyncOmniQ(
        project_name=_env.ns,
        backend_type="file" if ENGINE in FILE_ENGINES else ENGINE,
        queues=[_env.ns],
        **_backend_kwargs(ENGINE),
    )


def make_sync_app() -> OmniQ:
    """The blocking twin of ``make_app()``, for the ``-sync`` rows."""
    return OmniQ(
        project_name=_env.ns,
        backend_type="file" if ENGINE in FILE_ENGINES else ENGINE,
        queues=[_env.ns],
        **_backend_kwargs(ENGINE),
    )


async def noop() -> int:
    return 1


async def sleep10() -> int:
    await asyncio.sleep(0.01)
    return 1


def noop_sync() -> int:
    return 1


def sleep10_sync() -> int:
    time.sleep(0.01)
    return 1


_FUNCS = {"noop": noop, "sleep": sleep10}
_SYNC_FUNCS = {"noop": noop_sync, "sleep": sleep10_sync}
#: Producers of the ``producers`` workload: coroutines of one async app, or threads of a sync
#: web app, in one process.
ASYNC_PRODUCERS = 100
SYNC_PRODUCERS = 16


class _OmniQ(System):
    is_omniq = True
    supports_bulk = True
    bulk_api = "AsyncOmniQ.enqueue_many(func, items)"
    async_tasks = True
    worker_type = "async"

    def __init__(self, env: BenchEnv) -> None:
        super().__init__(env)
        if self.engine != ENGINE:
            raise RuntimeError(f"BENCH_OMNIQ_ENGINE={ENGINE!r} but this row is {self.engine}")
        self.oq: AsyncOmniQ | None = None

    def versions(self) -> dict[str, str]:
        names = ["omniq"]
        if self.engine in FILE_ENGINES:
            names.append("omniq-fsspec")
        elif self.engine != "memory":
            names.append(f"omniq-{self.engine}")
        drivers = {"redis": "redis", "postgres": "asyncpg", "nats": "nats-py",
                   "s3": "s3fs", "file": "fsspec"}
        if self.engine in drivers:
            names.append(drivers[self.engine])
        out = dist_versions(*names)
        if self.engine == "sqlite":
            import sqlite3

            out["sqlite"] = sqlite3.sqlite_version
        if self.engine == "s3":
            out.update(dist_versions("moto"))
        return out

    def settings(self, concurrency: int) -> dict[str, str]:
        worker = (
            f"in-process start_worker(worker_type='async', max_workers={concurrency})"
            if self.inprocess_worker
            else f"omniq worker --type async --concurrency {concurrency}"
        )
        out = {
            "worker": worker,
            "result wait": f"AsyncOmniQ.get_result(poll_interval={RESULT_POLL_S})",
            "completion signal": "task_queue.count_tasks(status=completed)",
            "events": "off (no event store configured)",
        }
        if self.engine == "file":
            out["storage"] = "a local directory (idle worker woken by inotify)"
        if self.engine == "s3":
            out["storage"] = "S3: moto's server mode on loopback (its own process)"
            out["worker"] += f", OMNIQ_POLL_INTERVAL={WORKER_POLL_S} (an idle worker polls)"
        return out

    # -- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        self.oq = make_app()
        await self.oq.connect()

    async def close(self) -> None:
        if self.oq is not None:
            await self.oq.close()
            self.oq = None

    async def reset(self) -> None:
        await self.close()
        await self.wipe()
        await self.open()

    async def cleanup(self) -> None:
        await self.wipe()

    async def wipe(self) -> None:
        """Remove this run's state from the engine (the app is closed)."""

    # -- producing ---------------------------------------------------------------------------
    @property
    def app(self) -> AsyncOmniQ:
        assert self.oq is not None, "open() first"
        return self.oq

    async def enqueue(self, kind: str) -> Any:
        return await self.app.enqueue(_FUNCS[kind], queue_name=self.queue_name)

    async def enqueue_bulk(self, kind: str, n: int) -> list[Any]:
        return await self.app.enqueue_many(
            _FUNCS[kind], [() for _ in range(n)], queue_name=self.queue_name
        )

    async def enqueue_concurrently(self, kind: str, n: int) -> list[Any]:
        per = _shares(n, ASYNC_PRODUCERS)

        async def produce(count: int) -> list[Any]:
            return [await self.enqueue(kind) for _ in range(count)]

        return [h for part in await asyncio.gather(*map(produce, per)) for h in part]

    async def wait_result(self, handle: Any, timeout: float) -> Any:
        return await self.app.get_result(handle, timeout=timeout, poll_interval=RESULT_POLL_S)

    async def done_count(self) -> int | None:
        return await self.app.task_queue.count_tasks(
            queue_name=self.queue_name, status=TaskStatus.COMPLETED
        )

    # -- workers -----------------------------------------------------------------------------
    def worker_argv(self, concurrency: int) -> list[str]:
        # ``run.py --profile``: each worker writes a cProfile file (``python -m pstats FILE``).
        profile: list[str] = []
        if os.environ.get("BENCH_PROFILE_DIR"):
            name = f"{self.name}-{uuid.uuid4().hex[:8]}.prof"
            profile = ["-m", "cProfile", "-o", os.path.join(os.environ["BENCH_PROFILE_DIR"], name)]
        return [
            python_bin(), *profile, "-m", "omniq", "--log-level", "WARNING", "worker",
            "--app", "systems.omniq:make_app", "--queues", self.queue_name,
            "--type", self.worker_type, "--concurrency", str(concurrency),
        ]  # fmt: skip

    def worker_env(self) -> dict[str, str]:
        env = {"BENCH_OMNIQ_ENGINE": self.engine}
        if self.engine == "s3":  # the common interval of every worker that polls
            env["OMNIQ_POLL_INTERVAL"] = str(WORKER_POLL_S)
        return env

    async def start_inprocess_worker(self, concurrency: int) -> None:
        await self.app.start_worker(
            worker_type="async", max_workers=concurrency, queues=[self.queue_name]
        )

    async def stop_inprocess_worker(self) -> None:
        await self.app.stop_worker()


def _shares(n: int, parts: int) -> list[int]:
    """``n`` split into ``parts`` near-equal counts."""
    return [n // parts + (i < n % parts) for i in range(parts)]


class _SyncOmniQ(_OmniQ):
    """The blocking client, plain task functions and the thread-pool worker."""

    bulk_api = "OmniQ.enqueue_many(func, items)"
    async_tasks = False
    worker_type = "thread_pool"

    def __init__(self, env: BenchEnv) -> None:
        super().__init__(env)
        self.sync_oq: OmniQ | None = None

    def settings(self, concurrency: int) -> dict[str, str]:
        return {
            "client": "OmniQ (blocking), called from the harness's coroutines",
            "worker": f"omniq worker --type thread_pool --concurrency {concurrency}",
            "task": "def noop() / def sleep10() (time.sleep)",
            "result wait": f"OmniQ.get_result(poll_interval={RESULT_POLL_S})",
            "producers": f"{SYNC_PRODUCERS} threads calling OmniQ.enqueue",
            "completion signal": "task_queue.count_tasks(status=completed)",
            "events": "off (no event store configured)",
        }

    async def open(self) -> None:
        self.sync_oq = make_sync_app()
        self.sync_oq.connect()

    async def close(self) -> None:
        if self.sync_oq is not None:
            self.sync_oq.close()
            self.sync_oq = None

    @property
    def sync_app(self) -> OmniQ:
        assert self.sync_oq is not None, "open() first"
        return self.sync_oq

    async def enqueue(self, kind: str) -> Any:
        return self.sync_app.enqueue(_SYNC_FUNCS[kind], queue_name=self.queue_name)

    async def enqueue_bulk(self, kind: str, n: int) -> list[Any]:
        return self.sync_app.enqueue_many(
            _SYNC_FUNCS[kind], [() for _ in range(n)], queue_name=self.queue_name
        )

    async def enqueue_concurrently(self, kind: str, n: int) -> list[Any]:
        app, func, queue = self.sync_app, _SYNC_FUNCS[kind], self.queue_name

        def produce(count: int) -> list[Any]:
            return [app.enqueue(func, queue_name=queue) for _ in range(count)]

        with ThreadPoolExecutor(SYNC_PRODUCERS) as pool:
            parts = list(pool.map(produce, _shares(n, SYNC_PRODUCERS)))
        return [h for part in parts for h in part]

    async def wait_result(self, handle: Any, timeout: float) -> Any:
        return self.sync_app.get_result(handle, timeout=timeout, poll_interval=RESULT_POLL_S)

    async def done_count(self) -> int | None:
        return self.sync_app.task_queue.count_tasks(
            queue_name=self.queue_name, status=TaskStatus.COMPLETED
        )

    async def waiting_count(self) -> int | None:
        return self.sync_app.task_queue.count_tasks(
            queue_name=self.queue_name, status=TaskStatus.PENDING
        )


class OmniQMemory(_OmniQ):
    name = "omniq-memory"
    engine = "memory"
    inprocess_worker = True


class OmniQSqlite(_OmniQ):
    name = "omniq-sqlite"
    engine = "sqlite"

    async def wipe(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(SQLITE_PATH + suffix)


class OmniQRedis(_OmniQ):
    name = "omniq-redis"
    engine = "redis"

    async def wipe(self) -> None:
        redis_flush_own_db(self.env.redis_url)


class OmniQPostgres(_OmniQ):
    name = "omniq-postgres"
    engine = "postgres"

    async def wipe(self) -> None:
        import asyncpg

        # omniq_bench is the bench's own database: drop every schema the run created.
        conn = await asyncpg.connect(self.env.pg_dsn)
        try:
            rows = await conn.fetch(
                "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
                "AND nspname <> 'information_schema'"
            )
            for row in rows:
                await conn.execute(f'DROP SCHEMA "{row["nspname"]}" CASCADE')
            await conn.execute("CREATE SCHEMA IF NOT EXISTS public")
        finally:
            await conn.close()


class OmniQNats(_OmniQ):
    name = "omniq-nats"
    engine = "nats"

    async def wipe(self) -> None:
        import nats

        # Streams (and the KV / object-store buckets, which are streams too) named after
        # this run's namespace; other streams on the shared server are left alone.
        nc = await nats.connect(self.env.nats_url)
        try:
            js = nc.jetstream()
            for info in await js.streams_info():
                if self.env.ns in info.config.name:
                    await js.delete_stream(info.config.name)
        finally:
            await nc.close()


class OmniQFile(_OmniQ):
    name = "omniq-file"
    engine = "file"

    async def wipe(self) -> None:
        import shutil

        shutil.rmtree(FILE_DIR, ignore_errors=True)


class OmniQFileS3(_OmniQ):
    name = "omniq-file-s3"
    engine = "s3"

    async def wipe(self) -> None:
        import s3fs

        # The run's own prefix of the bench's own bucket on the run's own moto server.
        fs = s3fs.S3FileSystem(**_s3_options())
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(fs.rm, f"{BUCKET}/{_env.ns}", recursive=True)


class OmniQSqliteSync(_SyncOmniQ, OmniQSqlite):
    name = "omniq-sqlite-sync"


class OmniQRedisSync(_SyncOmniQ, OmniQRedis):
    name = "omniq-redis-sync"


class OmniQPostgresSync(_SyncOmniQ, OmniQPostgres):
    name = "omniq-postgres-sync"


class OmniQNatsSync(_SyncOmniQ, OmniQNats):
    name = "omniq-nats-sync"


ROWS = {
    "omniq-memory": OmniQMemory,
    "omniq-sqlite": OmniQSqlite,
    "omniq-redis": OmniQRedis,
    "omniq-postgres": OmniQPostgres,
    "omniq-nats": OmniQNats,
    "omniq-file": OmniQFile,
    "omniq-file-s3": OmniQFileS3,
    "omniq-sqlite-sync": OmniQSqliteSync,
    "omniq-redis-sync": OmniQRedisSync,
    "omniq-postgres-sync": OmniQPostgresSync,
    "omniq-nats-sync": OmniQNatsSync,
}
