"""A worker process on the PostgreSQL backend, for the multi-process tests.

Usage: python postgres_worker.py DSN PROJECT [--concurrency N | --max-workers N] [--lease S]
(``--max-workers`` as the other server workers spell it, for ``ServerWorkers``).

Prints ``ready`` once it serves; stops gracefully on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from omniq import AsyncOmniQ
from omniq_postgres import AsyncPostgresBackend


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dsn")
    parser.add_argument("project")
    parser.add_argument("--concurrency", "--max-workers", dest="concurrency", type=int, default=10)
    parser.add_argument("--lease", type=float, default=30.0)
    args = parser.parse_args()
    backend = AsyncPostgresBackend(project_name=args.project, url=args.dsn)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with AsyncOmniQ(backend=backend) as oq:
        await oq.start_worker("async", max_workers=args.concurrency, lease=args.lease,
                              maintenance_interval=min(1.0, args.lease / 3))
        print("ready", flush=True)
        await stop.wait()
        await oq.stop_worker(timeout=5)


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
