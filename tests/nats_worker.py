"""A worker process for the multi-process NATS tests.

Usage: ``python nats_worker.py URL PROJECT [--max-workers N] [--lease S]``.
Prints ``ready`` once its worker runs; stops gracefully on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from omniq import AsyncOmniQ
from omniq_nats import AsyncNATSResultStore, AsyncNATSTaskQueue


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("project")
    parser.add_argument("--max-workers", type=int, default=10)
    parser.add_argument("--lease", type=float, default=30.0)
    args = parser.parse_args()
    oq = AsyncOmniQ(project_name=args.project,
                    task_queue=AsyncNATSTaskQueue(url=args.url, project_name=args.project),
                    result_store=AsyncNATSResultStore(url=args.url, project_name=args.project))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await oq.start_worker("async", max_workers=args.max_workers, lease=args.lease,
                          maintenance_interval=min(1.0, args.lease / 3))
    print("ready", flush=True)
    await stop.wait()
    await oq.stop_worker(timeout=5)
    await oq.close()


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
