"""Huey on Redis, on SQLite and on files (``FileHuey``, a local directory), with its consumer's
thread workers.

Settings from Huey's docs: ``RedisHuey`` with blocking dequeue (BRPOP, the default) and
``notify_result=True`` so result waits block on a notification list instead of polling;
``SqliteHuey`` (WAL, its default) is polled, so its consumer runs with the bench's common worker
poll interval (``-d``/``-m``; Huey's defaults start at 0.1 s and back off to 10 s) and result
waits poll at the bench's common result interval. ``FileHuey`` (its ``FileStorage``: one
directory, every operation under one ``flock``) is polled the same way. One consumer process,
``-k thread -w N``.
Huey has no bulk enqueue and no async tasks (the 10 ms task is ``time.sleep`` on a thread).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from typing import Any

from huey import FileHuey, RedisHuey, SqliteHuey

from ._base import (
    RESULT_POLL_S,
    WORKER_POLL_S,
    BenchEnv,
    System,
    dist_versions,
    redis_flush_own_db,
    venv_script,
)

_env = BenchEnv.from_environ()
ENGINE = os.environ.get("BENCH_HUEY_ENGINE", "redis")
SQLITE_PATH = os.path.join(_env.sqlite_dir, f"{_env.ns}-huey.db")

FILE_DIR = os.path.join(_env.sqlite_dir, f"{_env.ns}-huey-files")
#: Engines whose consumer polls.
POLLED = ("sqlite", "file")

if ENGINE == "sqlite":
    huey = SqliteHuey(_env.ns, filename=SQLITE_PATH)
elif ENGINE == "file":
    huey = FileHuey(_env.ns, path=FILE_DIR)
else:
    huey = RedisHuey(_env.ns, url=_env.redis_url, notify_result=True)


@huey.task()
def noop() -> int:
    return 1


@huey.task()
def sleep10() -> int:
    time.sleep(0.01)
    return 1


_TASKS = {"noop": noop, "sleep": sleep10}


class _Huey(System):
    def __init__(self, env: BenchEnv) -> None:
        super().__init__(env)
        if self.engine != ENGINE:
            raise RuntimeError(f"BENCH_HUEY_ENGINE={ENGINE!r} but this row is {self.engine}")

    def versions(self) -> dict[str, str]:
        if self.engine == "redis":
            return dist_versions("huey", "redis", "hiredis")
        if self.engine == "file":
            return dist_versions("huey")
        import sqlite3

        return {**dist_versions("huey"), "sqlite": sqlite3.sqlite_version}

    def settings(self, concurrency: int) -> dict[str, str]:
        out = {"worker": f"huey_consumer -k thread -w {concurrency} -q"}
        if self.engine in POLLED:
            out["worker"] += f" -d {WORKER_POLL_S} -b 1 -m {WORKER_POLL_S}"
            out["storage"] = ("SqliteHuey (WAL, its default)" if self.engine == "sqlite"
                              else "FileHuey (a local directory, its defaults)")
            out["result wait"] = f"Result.get(blocking=True, max_delay={RESULT_POLL_S})"
        else:
            out["storage"] = "RedisHuey(blocking=True, notify_result=True)"
            out["result wait"] = "Result.get(blocking=True) (BLPOP notification)"
        return out

    async def enqueue(self, kind: str) -> Any:
        return _TASKS[kind]()

    async def wait_result(self, handle: Any, timeout: float) -> Any:
        return handle.get(blocking=True, timeout=timeout, backoff=1.0, max_delay=RESULT_POLL_S)

    async def done_count(self) -> int | None:
        # Results stay in Huey's result store until read, and nothing reads them while a
        # drain is measured.
        return huey.result_count()

    def worker_argv(self, concurrency: int) -> list[str]:
        argv = [
            venv_script("huey_consumer"), "systems.huey.huey",
            "-k", "thread", "-w", str(concurrency), "-q",
        ]  # fmt: skip
        if self.engine in POLLED:
            argv += ["-d", str(WORKER_POLL_S), "-b", "1", "-m", str(WORKER_POLL_S)]
        return argv

    def worker_env(self) -> dict[str, str]:
        return {"BENCH_HUEY_ENGINE": self.engine}


class HueyRedisSystem(_Huey):
    name = "huey"
    engine = "redis"

    async def reset(self) -> None:
        redis_flush_own_db(self.env.redis_url)


class HueySqliteSystem(_Huey):
    name = "huey-sqlite"
    engine = "sqlite"

    async def reset(self) -> None:
        huey.flush()

    async def cleanup(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(SQLITE_PATH + suffix)


class HueyFileSystem(_Huey):
    name = "huey-file"
    engine = "file"

    async def reset(self) -> None:
        huey.flush()

    async def cleanup(self) -> None:
        shutil.rmtree(FILE_DIR, ignore_errors=True)


ROWS = {"huey": HueyRedisSystem, "huey-sqlite": HueySqliteSystem, "huey-file": HueyFileSystem}
