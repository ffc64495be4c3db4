"""Workers still running when the program ends are stopped as ``stop()`` stops them.

A script that starts an in-process worker and ends without ``stop_worker()`` (as short
examples do) would otherwise end it mid-task, since the threads that run workers are daemons:
its running tasks would stay ``running`` until their lease ran out and then run again, the
tasks it had claimed ahead would wait for that as well, and its last events would be lost.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

logger = logging.getLogger("omniq.worker")

#: Workers started and not stopped yet.
running: weakref.WeakSet[Any] = weakref.WeakSet()
#: Seconds the exit waits for a worker's stop beyond its grace period (events, put-backs).
STOP_MARGIN = 15.0


def stop_running_workers(kind: type | None = None) -> None:
    """Stop every worker still running (of ``kind`` only, when given), each within its grace
    period; called at exit."""
    from .. import _sync

    sync = _sync.current_runner()
    for worker in list(running):
        if kind is not None and not isinstance(worker, kind):
            continue
        if worker._loop_ended:  # asyncio.run() returned: the worker ended with its loop
            continue
        logger.info("worker %s still running as the program ends: stopping it (running "
                    "tasks get up to %g s to finish; stop_worker() stops it sooner)",
                    worker.worker_id, worker.grace_period)
        wait = worker.grace_period + STOP_MARGIN
        try:
            if sync is not None and worker._connected_in(sync.loop):  # a blocking worker's
                sync.call(asyncio.wait_for(worker.stop(), wait))
            elif worker._loop.is_running():  # a loop of the program's, in another thread
                asyncio.run_coroutine_threadsafe(worker.stop(), worker._loop).result(wait)
        except Exception as exc:
            logger.warning("worker %s could not stop as the program ends: %s",
                           worker.worker_id, exc)
