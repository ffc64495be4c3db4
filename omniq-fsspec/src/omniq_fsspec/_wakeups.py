"""Waking idle workers on a local directory: inotify, where the platform has it.

A watch on ``ready/<queue>`` and ``wait/<queue>`` of each queue fires when any process writes
an index entry there (an enqueue, a retry, a released dependent, a recovered lease), so an idle
worker looks again at once instead of after its poll interval. Where inotify is missing (not
Linux), :func:`watch` returns None and the queue polls with a short back-off instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import sys

import anyio

IN_CREATE = 0x100
IN_MOVED_TO = 0x80
_libc: ctypes.CDLL | None = None


def inotify_library() -> ctypes.CDLL | None:
    """libc with inotify's calls, or None where the platform lacks them."""
    global _libc
    if _libc is None and sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.inotify_init1, libc.inotify_add_watch  # noqa: B018 - both must exist
            _libc = libc
    return _libc


class Watch:
    """An inotify instance watching some folders for new entries."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    async def wait(self, timeout: float) -> bool:
        """True if an entry appeared within ``timeout`` seconds."""
        with anyio.move_on_after(timeout):
            await anyio.wait_readable(self.fd)
            return True
        return False

    def close(self) -> None:
        os.close(self.fd)


def watch(root: str, queues: list[str]) -> Watch | None:
    """A watch on the index folders of ``queues`` under ``root``, or None without inotify."""
    libc = inotify_library()
    if libc is None:
        return None
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0:
        return None
    for queue in queues:
        for folder in ("ready", "wait"):
            path = os.path.join(root, folder, queue)
            os.makedirs(path, exist_ok=True)
            if libc.inotify_add_watch(fd, os.fsencode(path), IN_CREATE | IN_MOVED_TO) < 0:
                os.close(fd)
                return None
    return Watch(fd)
