"""Blocking socket I/O at high concurrency: the gevent worker beside the thread pool.

Standalone (not part of the test suite, not part of ``run.py``):
``python bench/gevent_io.py [--tasks 1000] [--concurrency 200] [--delay 0.05]``.
Each task is a plain function doing one blocking round trip to a loopback server that answers
after ``--delay`` seconds. Each row runs in its own process (the gevent one monkey-patched
first, the thread-pool one never patched), on the memory backend with the worker in that
process, and the server in a process of its own. The clock runs from the worker's
start to the last completion (``count_tasks(status=completed)``, polled every millisecond).
The ideal is tasks / concurrency * delay (1,000 / 200 * 50 ms = 0.25 s); target for gevent:
within 2x.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

ROWS = ("gevent", "thread_pool")


def round_trip(port: int) -> str:
    """The task: send a line, wait for the delayed answer (blocking socket calls)."""
    import socket

    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(b"ping\n")
        return conn.makefile().readline()


def serve(delay: float) -> None:
    """The loopback server: answers each line after ``delay`` s; prints its port, then runs
    until its stdin closes (its own process, so it takes no CPU from the worker's)."""
    import asyncio

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        await asyncio.sleep(delay)
        writer.write(b"pong\n")
        await writer.drain()
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(answer, "127.0.0.1", 0, backlog=4096)
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

    asyncio.run(main())


def run_row(row: str, tasks: int, concurrency: int, port: int) -> dict[str, float]:
    if row == "gevent":  # before omniq (and the drivers) import socket and ssl
        import omniq_gevent

        omniq_gevent.patch()
    import asyncio
    import time

    from omniq import AsyncOmniQ
    from omniq.models import TaskStatus

    # The row runs as __main__: the worker must find the task under an importable name.
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from gevent_io import round_trip as task

    async def main() -> dict[str, float]:
        async with AsyncOmniQ(backend_type="memory", project_name="bench") as oq:
            await oq.enqueue_many(task, [{"port": port} for _ in range(tasks)])
            started = time.perf_counter()
            await oq.start_worker(row, max_workers=concurrency, poll_interval=0.001)
            while await oq.task_queue.count_tasks(status=TaskStatus.COMPLETED) < tasks:
                await asyncio.sleep(0.001)
            took = time.perf_counter() - started
            await oq.stop_worker()
        return {"seconds": took, "tasks_per_s": tasks / took}

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--row", choices=ROWS, help=argparse.SUPPRESS)  # one row, in a child
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.delay)
        return
    if args.row:
        print(json.dumps(run_row(args.row, args.tasks, args.concurrency, args.port)))
        return
    server = subprocess.Popen([sys.executable, __file__, "--serve", "--delay", str(args.delay)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None and server.stdin is not None
    port = server.stdout.readline().strip()
    ideal = args.tasks / args.concurrency * args.delay
    print(f"{args.tasks} tasks, one {args.delay * 1000:.0f} ms blocking round trip each, "
          f"concurrency {args.concurrency}: ideal {ideal:.3f} s")
    try:
        for row in ROWS:
            out = subprocess.run([sys.executable, __file__, "--row", row, "--port", port,
                                  "--tasks", str(args.tasks), "--concurrency",
                                  str(args.concurrency)],
                                 check=True, capture_output=True, text=True).stdout
            figures = json.loads(out.strip().splitlines()[-1])
            print(f"  {row:<12} {figures['seconds']:.3f} s  {figures['tasks_per_s']:>7.0f} "
                  f"tasks/s  {figures['seconds'] / ideal:.2f}x the ideal")
    finally:
        server.stdin.close()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
