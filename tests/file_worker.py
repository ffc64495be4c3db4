"""A worker process for the file backend's multi-process tests.

Usage: ``python file_worker.py BASE_DIR PROJECT CONCURRENCY LEASE``. Runs an async worker on
the local directory until SIGTERM, then stops gracefully. Prints ``ready`` once it runs.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from omniq import AsyncOmniQ


async def main(base_dir: str, project: str, concurrency: int, lease: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with AsyncOmniQ(project_name=project, backend_type="file", base_dir=base_dir) as oq:
        await oq.start_worker("async", max_workers=concurrency, lease=lease,
                              poll_interval=0.2, maintenance_interval=0.2, grace_period=5.0)
        print("ready", flush=True)
        await stop.wait()
        await oq.stop_worker(timeout=5.0)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
