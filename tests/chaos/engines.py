"""What the chaos scenarios run on: the sizes of the quick and full forms, the engines (where
the store is, how a client opens it, how a worker process starts on it: the suite's worker
scripts, reused), private servers to kill and restart, and the figures each scenario prints.

The quick form is the default (CI); ``OMNIQ_CHAOS=full`` selects the full one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faults import Proc
from omniq import AsyncOmniQ
from worker_processes import LocalWorkers, ServerWorkers, WorkerProcesses

FULL = os.environ.get("OMNIQ_CHAOS", "quick") == "full"


@dataclass(frozen=True)
class Sizes:
    tasks: int  # tasks of a storm
    workers: int  # worker processes kept alive
    concurrency: int  # slots per worker
    kill_every: float  # seconds between two faults of a storm
    task_seconds: float  # how long each storm task works
    # Faults of a SIGKILL storm at most (None: until its tasks are done). A loaded machine
    # finishes fewer tasks between two kills; the bound keeps the storm from outrunning it.
    kills: int | None


SIZES = Sizes(5000, 4, 8, 2.0, 0.1, None) if FULL else Sizes(200, 2, 4, 1.0, 0.2, 30)
ENGINES = ["sqlite", "file", "redis", "postgres", "nats"]
SERVERS = ["redis", "postgres", "nats"]

FIGURES: list[str] = []


def figures(line: str) -> None:
    """Record one scenario's figures; all are printed together at the end of the run."""
    FIGURES.append(line)


@dataclass
class Engine:
    """One backend under test."""

    name: str
    url: str
    project: str
    workers: WorkerProcesses
    ledger: Path  # where its tasks write what they did

    def client(self) -> AsyncOmniQ:
        return AsyncOmniQ(project_name=self.project, task_queue=self.url)

    def start_worker(self, concurrency: int, lease: float) -> Proc:
        if isinstance(self.workers, LocalWorkers):
            return self.workers.start(concurrency, lease)
        assert isinstance(self.workers, ServerWorkers)
        return self.workers.start(self.url, self.project, max_workers=concurrency, lease=lease)


SCRIPTS = {"sqlite": "sqlite_worker.py", "file": "file_worker.py", "redis": "redis_worker.py",
           "postgres": "postgres_worker.py", "nats": "nats_worker.py"}


def engine_at(name: str, url: str, project: str, tmp_path: Path) -> Engine:
    """``name``'s engine: on the server at ``url``, or in ``tmp_path`` for sqlite and file."""
    ledger = tmp_path / "ledger"
    ledger.mkdir(parents=True)
    if name == "sqlite":
        database = str(tmp_path / "omniq.db")
        return Engine(name, f"sqlite:///{database}", project,
                      LocalWorkers(SCRIPTS[name], database, project), ledger)
    if name == "file":
        directory = str(tmp_path / "store")
        return Engine(name, f"file://{directory}", project,
                      LocalWorkers(SCRIPTS[name], directory, project), ledger)
    return Engine(name, url, project, ServerWorkers(SCRIPTS[name]), ledger)


async def drop(engine: Engine) -> None:
    """Delete what a test left on a shared server."""
    if engine.name == "redis":
        from test_redis_conformance import drop_project_keys

        await drop_project_keys(engine.url, engine.project)
    elif engine.name == "postgres":
        from test_postgres_conformance import drop_schema

        await drop_schema(engine.url, engine.project)
    elif engine.name == "nats":
        from test_nats_conformance import drop_project_streams

        await drop_project_streams(engine.url, engine.project)


# -- private servers, killed and restarted -------------------------------------------------------
class Server:
    """A server of the test's own: ``down()`` kills it, ``up()`` starts it again on the same
    port and data. Only this process is ever stopped."""

    name: str
    url: str

    def down(self) -> None:
        raise NotImplementedError

    def up(self) -> None:
        raise NotImplementedError


class RedisProcess(Server):
    name = "redis"

    def __init__(self, directory: Path) -> None:
        from tasks_redis import RedisServer

        self.server = RedisServer(directory)  # every write in its AOF before it is answered
        self.server.start()
        self.url = self.server.url

    def down(self) -> None:
        self.server.stop()  # SIGKILL

    def up(self) -> None:
        self.server.start()


class NATSProcess(Server):
    name = "nats"

    def __init__(self, directory: Path) -> None:
        from nats_server import NATSServer

        self.server = NATSServer(directory)
        self.server.start()
        self.url = self.server.url

    def down(self) -> None:
        self.server.kill()  # SIGKILL

    def up(self) -> None:
        self.server.start()


class PostgresProcess(Server):
    name = "postgres"

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster
        self.url = cluster.dsn()

    def down(self) -> None:
        self.cluster.stop("immediate")  # every process quits at once; WAL recovery on start

    def up(self) -> None:
        self.cluster.start()
