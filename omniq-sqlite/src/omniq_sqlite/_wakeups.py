"""Cross-process wake-ups for one SQLite file: datagrams over Unix sockets.

SQLite cannot notify another process of a commit. Instead, a process that waits on a database
binds a Unix datagram socket in a private directory named after it
(``<tmp>/omniq-<uid>/<hash of the path>/``), one per kind of wait: ``w`` for idle workers (keys
``(project, queue)``), ``r`` for result waiters (keys ``(project, "result", task_id)``). A
committer sends the keys worth waking for to every socket of that kind; the waiter's event
loop reads them and hands them to the in-process :class:`~._signal.Signal`, and the waiter
re-checks the database, so a lost or spurious datagram costs nothing but a check. Polling
``PRAGMA data_version`` stays the fallback for writers that don't publish (another container,
other tools). A lone commit is sent at once; during a burst a sender thread merges what
accumulated into one datagram per peer.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import logging
import os
import queue
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Hashable, Iterable

from ._signal import running_loop

logger = logging.getLogger("omniq.sqlite")
_KEY_SEP, _PART_SEP = "\x1e", "\x1f"
_MAX_DATAGRAM = 32_000
#: Seconds since the last send after which a commit is published at once, not via the thread.
SPARSE = 0.002
Key = tuple[str, ...]


def _directory(database_path: str) -> str:
    digest = hashlib.sha1(os.path.realpath(database_path).encode()).hexdigest()[:16]
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return os.path.join(tempfile.gettempdir(), f"omniq-{uid}", digest)


def _drop(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
    with contextlib.suppress(Exception):  # a closed loop has forgotten it already
        loop.remove_reader(sock.fileno())
    sock.close()


def kind_of(key: Key) -> str:
    return "r" if len(key) == 3 and key[1] == "result" else "w"


def encode(keys: Iterable[Key]) -> list[bytes]:
    """Keys as datagrams of at most ~32 kB each."""
    chunks: list[list[str]] = [[]]
    size = 0
    for key in keys:
        text = _PART_SEP.join(key)
        if chunks[-1] and size + len(text) > _MAX_DATAGRAM:
            chunks.append([])
            size = 0
        chunks[-1].append(text)
        size += len(text) + 1
    return [_KEY_SEP.join(chunk).encode() for chunk in chunks if chunk]


def decode(datagram: bytes) -> list[Key]:
    return [tuple(k.split(_PART_SEP)) for k in datagram.decode(errors="replace").split(_KEY_SEP)]


class WakeChannel:
    """Publishes keys to the other processes waiting on one database; receives theirs."""

    def __init__(self, database_path: str, deliver: Callable[[list[Hashable]], None]) -> None:
        self.directory = _directory(database_path)
        self._deliver = deliver
        self._lock = threading.Lock()
        self._receivers: dict[str, tuple[socket.socket, asyncio.AbstractEventLoop]] = {}
        self._own: set[str] = set()
        self._peers: dict[str, list[str]] = {"w": [], "r": []}
        self._peers_mtime = -1
        self._outbox: queue.SimpleQueue[list[Key] | None] = queue.SimpleQueue()
        self._sender: threading.Thread | None = None
        self._inline: socket.socket | None = None
        self._last_send = 0.0
        self._closed = False
        self._broken = not hasattr(socket, "AF_UNIX")

    # -- receiving ---------------------------------------------------------------------------
    def listen(self, kind: str) -> None:
        """Make sure this process's socket of ``kind`` is bound and read (``add_reader``) by
        the waiter's running event loop, which a datagram then wakes directly; if that loop
        has since stopped, the next waiter's loop takes over."""
        entry = self._receivers.get(kind)
        if self._broken or self._closed or (entry is not None and entry[1].is_running()):
            return
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._broken or self._closed:
                return
            entry = self._receivers.get(kind)
            if entry is None:
                receiver = self._bind(kind)
                if receiver is None:
                    return
            else:
                receiver, old = entry
                with contextlib.suppress(Exception):  # a closed loop forgot it already
                    old.remove_reader(receiver.fileno())
            try:
                loop.add_reader(receiver.fileno(), self._readable, receiver)
            except (NotImplementedError, OSError) as exc:  # e.g. Windows' proactor loop
                logger.info("no cross-process wake-ups on this event loop (%s); polling", exc)
                self._broken = True
                receiver.close()
                return
            self._receivers[kind] = (receiver, loop)

    def _bind(self, kind: str) -> socket.socket | None:
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            if hasattr(os, "getuid") and os.stat(self.directory).st_uid != os.getuid():
                raise PermissionError(f"{self.directory} belongs to another user")
            path = os.path.join(self.directory, f"{os.getpid()}-{id(self):x}-{kind}")
            receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            receiver.setblocking(False)
            receiver.bind(path)
        except OSError as exc:
            logger.info("no cross-process wake-ups for this database (%s); polling", exc)
            self._broken = True
            return None
        self._own.add(path)
        return receiver

    def _readable(self, receiver: socket.socket) -> None:
        keys: list[Hashable] = []
        while True:
            try:
                datagram = receiver.recv(65536)
            except OSError:  # drained (BlockingIOError), or closed
                break
            if datagram:
                keys.extend(decode(datagram))
        if keys:
            try:
                self._deliver(keys)
            except Exception:  # a bad datagram must not break the loop's reader
                logger.debug("bad wake-up datagram ignored", exc_info=True)

    # -- sending -----------------------------------------------------------------------------
    def publish(self, keys: list[Key]) -> None:
        """Send ``keys`` to the other waiting processes; never blocks, never raises. A lone
        commit's are sent at once, from the caller; during a burst the sender thread merges."""
        if self._broken or self._closed:
            return
        now = time.monotonic()
        if now - self._last_send > SPARSE and self._outbox.empty():
            self._last_send = now
            try:
                if self._inline is None:
                    self._inline = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    self._inline.setblocking(False)
                self._send(self._inline, dict.fromkeys(keys))
            except OSError as exc:  # out of descriptors, say: waiters fall back to polling
                logger.debug("wake-up not sent: %s", exc)
            return
        if self._sender is None:
            with self._lock:
                if self._sender is None:
                    self._sender = threading.Thread(target=self._send_loop, daemon=True,
                                                    name="omniq-sqlite-publisher")
                    self._sender.start()
        self._outbox.put(keys)

    def _send_loop(self) -> None:
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        except OSError as exc:
            logger.info("no cross-process wake-ups (%s); polling", exc)
            self._broken = True  # nothing is queued for this thread any more
            return
        with sock:
            sock.setblocking(False)
            while True:
                batch = self._outbox.get()
                keys: dict[Key, None] = {}
                while batch is not None:
                    keys.update(dict.fromkeys(batch))
                    try:
                        batch = self._outbox.get_nowait()
                    except queue.Empty:
                        break
                if keys:
                    self._last_send = time.monotonic()
                    self._send(sock, keys)
                if batch is None:  # closed
                    return

    def _send(self, sock: socket.socket, keys: dict[Key, None]) -> None:
        for kind, targets in self._current_peers().items():
            if not targets:
                continue
            for datagram in encode(k for k in keys if kind_of(k) == kind):
                for peer in targets:
                    try:
                        sock.sendto(datagram, peer)
                    except (ConnectionRefusedError, FileNotFoundError):
                        self._forget(peer)  # its process is gone
                    except OSError as exc:
                        # A full buffer means the peer has plenty of wake-ups queued already.
                        if exc.errno not in (errno.EAGAIN, errno.ENOBUFS):
                            logger.debug("wake-up to %s failed: %s", peer, exc)

    def _current_peers(self) -> dict[str, list[str]]:
        try:
            mtime = os.stat(self.directory).st_mtime_ns
            if mtime != self._peers_mtime:
                paths = [os.path.join(self.directory, n) for n in os.listdir(self.directory)]
                self._peers_mtime = mtime
                self._peers = {kind: [p for p in paths if p.endswith(f"-{kind}")
                                      and p not in self._own] for kind in ("w", "r")}
        except OSError:
            return {"w": [], "r": []}
        return self._peers

    def _forget(self, peer: str) -> None:
        with contextlib.suppress(OSError):
            os.unlink(peer)
        self._peers_mtime = -1

    def close(self) -> None:
        with self._lock:
            self._closed = True
            receivers, self._receivers = list(self._receivers.values()), {}
            own, self._own = self._own, set()
            inline, self._inline = self._inline, None
        if inline is not None:
            inline.close()
        if self._sender is not None:
            self._outbox.put(None)
        for sock, loop in receivers:
            if loop.is_running() and running_loop() is not loop:
                # That loop's thread unregisters the socket, then closes it (unless the loop
                # has closed meanwhile).
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_drop, loop, sock)
                    continue
            _drop(loop, sock)
        for path in own:
            with contextlib.suppress(OSError):
                os.unlink(path)
        with contextlib.suppress(OSError):  # the last one out removes the directory
            os.rmdir(self.directory)
