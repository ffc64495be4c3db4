"""An open SQLite database: one connection per file per process, and how work runs on it.

Why one connection: a project's queue, result store and event store usually share a file, and
so may several ``OmniQ`` objects of one process. With one connection in-process writers take
turns instead of spinning on the file lock, and ``:memory:`` works at all. Other processes use
their own connections; WAL mode, short ``BEGIN IMMEDIATE`` transactions and a busy timeout make
that safe.

Work that must not run on the event loop goes to aiosqlite's thread through
``Connection._execute``, its primitive for running a call there, pinned by the
``aiosqlite<0.23`` range of this distribution. Opening reads before it writes: a file that is
not SQLite (or is corrupt), or a schema newer than this release, is refused untouched.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import random
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
from omniq.etas import Etas
from omniq.exceptions import BackendError, BackendUnavailableError

from . import _sql
from ._signal import Signal
from ._wakeups import WakeChannel, kind_of

T = TypeVar("T")
logger = logging.getLogger("omniq.sqlite")
MEMORY = ":memory:"
#: First interval of the data_version fallback poll of a waiter (seconds).
FALLBACK_POLL = 0.002
#: Commits between two background WAL checkpoints (a large batch counts as this many).
CHECKPOINT_EVERY = 100
DEFAULT_BUSY_TIMEOUT = 30.0
#: Batches larger than this are written from the connection's thread, not the event loop.
HEAVY = 200
_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_INVALID = {sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT}


# -- the shared connection ----------------------------------------------------------------------

def _code(exc: BaseException) -> int:
    """The primary SQLite result code of a driver error (0 if it has none)."""
    return (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF


def translate(exc: BaseException, where: str) -> Exception:
    """A driver error as an OmniQ error naming the database."""
    code = _code(exc)
    if code in _INVALID:
        return BackendError(f"{where} is not a valid SQLite database, or it is corrupted "
                            f"({exc}); the file was left as it was")
    if code in _BUSY:
        return BackendUnavailableError(f"SQLite database {where} stayed locked past the busy "
                                       f"timeout ({exc})")
    if isinstance(exc, sqlite3.OperationalError) and "unable to open" in str(exc):
        return BackendUnavailableError(f"cannot open SQLite database {where} ({exc})")
    if isinstance(exc, ValueError):  # aiosqlite: the connection was closed under us
        return BackendUnavailableError(f"SQLite database {where} is closed ({exc})")
    return BackendError(f"SQLite error on {where}: {exc}")


def transaction(conn: sqlite3.Connection, fn: Callable[..., T], *args: Any) -> T:
    # IMMEDIATE takes the write lock now or fails at once with SQLITE_BUSY (Database waits and
    # retries), so a transaction that read first can never fail later on a snapshot another
    # process made stale.
    conn.execute("BEGIN IMMEDIATE")
    with conn:  # COMMIT; ROLLBACK on any exception, and when the COMMIT fails
        return fn(conn, *args)


class Database:
    """One open SQLite database, shared by the components of this process that use it.

    Every operation is one function of the raw connection (a whole transaction). It runs
    inline on the caller's event loop when the connection is free and the file unlocked (a
    statement takes microseconds, a hop to another thread ~100 us); what may wait for another
    process's lock, or is ``heavy``, runs in aiosqlite's thread. One lock keeps the connection
    used by one thread at a time.
    """

    def __init__(self, path: str, busy_timeout: float) -> None:
        self.path = path
        self.is_memory = path == MEMORY
        self.where = "an in-memory database" if self.is_memory else path
        self.busy_timeout = busy_timeout
        self.signal = Signal()
        #: Etas of delayed tasks this process wrote, by (project, queue).
        self.etas = Etas()
        self.wake = None if self.is_memory else WakeChannel(path, self.signal.notify)
        self.users = 0
        self.ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._conn: aiosqlite.Connection | None = None
        self._raw: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._schemas: set[str] = set()
        self._commits = 0
        self._checkpointing = False

    # -- wake-ups ------------------------------------------------------------------------------
    def notify(self, keys: Iterable[tuple[str, ...]]) -> None:
        """Wake waiters of ``keys`` here and in the other processes using this file."""
        keys = list(keys)
        if keys:
            self.signal.notify(keys)
            if self.wake is not None:
                self.wake.publish(keys)

    async def wait(self, keys: Iterable[tuple[str, ...]], timeout: float,
                   check: Callable[[], Awaitable[T | None]], max_poll: float = 0.1) -> T | None:
        """``check()``'s first truthy value, or None after ``timeout`` seconds. It checks at
        once, whenever ``keys`` are notified (by any process using the file), and whenever
        another connection has committed: that fallback polls ``PRAGMA data_version`` every
        2 ms, backing off to ``max_poll``."""
        deadline, keys = time.monotonic() + timeout, list(keys)
        if self.wake is not None and keys:
            self.wake.listen(kind_of(keys[0]))
        listener = self.signal.listen(keys)  # before the first check: no notify is missed
        try:
            version = None if self.is_memory else await self.data_version()
            found = await check()
            step = FALLBACK_POLL
            while not found and (remaining := deadline - time.monotonic()) > 0:
                if version is None:
                    await listener.wait(remaining)
                elif not await listener.wait(min(remaining, step)):
                    seen = await self.data_version()
                    if seen == version:
                        step = min(step * 2, max(max_poll, FALLBACK_POLL))
                        continue
                    version = seen
                listener.clear()
                found = await check()
            return found or None
        finally:
            self.signal.forget(listener)

    async def open(self) -> None:
        if not self.is_memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            # timeout=0: SQLite's own busy handler would sleep while holding the connection
            # (and, inline, the event loop); _in_thread waits instead, with the lock released.
            conn = aiosqlite.connect(self.path, isolation_level=None, cached_statements=256,
                                     timeout=0, check_same_thread=False)
            # aiosqlite's thread is not a daemon: an unclosed sync object would hang exit.
            conn._thread.daemon = True
            self._conn = await conn
            self._raw = self._conn._conn
            await self.run(self._check_and_configure, heavy=True)
        except BaseException as exc:
            await self.close()
            if isinstance(exc, sqlite3.Error | ValueError):
                raise translate(exc, self.where) from exc
            raise

    def _check_and_configure(self, conn: sqlite3.Connection) -> None:
        # Reads first: a non-SQLite or corrupt file fails here, before anything is written.
        for component, version in _sql.stored_versions(conn).items():
            if component in _sql.MIGRATIONS:  # tables of components we don't know
                _sql.migration_steps(component, version, self.where)  # raises if newer
        # NORMAL in WAL mode: a crashed process loses nothing; a power cut may lose the last
        # commits but never corrupts the file. FULL (fsync per commit) is ~10x slower.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA temp_store = MEMORY")
        if not self.is_memory:
            if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            # Checkpoints run on their own connection in the background (see _wrote): copying
            # the WAL into the file (and its fsync) then never stalls a commit or the loop.
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            conn.execute("PRAGMA journal_size_limit = 67108864")

    async def close(self) -> None:
        if self.wake is not None:
            self.wake.close()
        conn = self._conn
        if conn is None:
            return

        def detach() -> None:
            with self._lock:  # never close under an inline user
                self._raw = None

        try:
            with contextlib.suppress(Exception):  # already broken; nothing more to release
                if self._raw is not None:
                    await conn._execute(detach)
                await conn.close()
        finally:
            self._conn, self._raw = None, None

    # -- running work ----------------------------------------------------------------------
    async def run(self, fn: Callable[..., T], *args: Any, heavy: bool = False) -> T:
        """Run ``fn(conn, *args)`` (autocommit: ``fn`` opens any transaction it needs)."""
        raw, conn = self._raw, self._conn
        if raw is None or conn is None:
            raise BackendUnavailableError(f"SQLite database {self.where} is closed")
        try:
            if not heavy and self._lock.acquire(blocking=False):
                try:
                    if self._raw is not None:
                        return fn(raw, *args)
                except sqlite3.OperationalError as exc:
                    if _code(exc) not in _BUSY:
                        raise
                    # Locked by another process: wait for it in the thread, not on the loop.
                finally:
                    self._lock.release()
            return await conn._execute(self._in_thread, fn, args)
        except (sqlite3.Error, ValueError) as exc:
            raise translate(exc, self.where) from exc

    def _in_thread(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.0001
        while True:
            with self._lock:
                if self._raw is None:
                    raise BackendUnavailableError(f"SQLite database {self.where} is closed")
                try:
                    return fn(self._raw, *args)
                except sqlite3.OperationalError as exc:
                    if _code(exc) not in _BUSY or time.monotonic() >= deadline:
                        raise
            # Other processes hold the lock for ~0.1 ms per transaction: look again soon, with
            # jitter so two waiters do not retry in step. The connection lock is released
            # meanwhile, so this process's inline users go on.
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 1.5, 0.005)

    async def write(self, fn: Callable[..., T], *args: Any, heavy: bool = False) -> T:
        """Run ``fn(conn, *args)`` in one ``BEGIN IMMEDIATE`` transaction; ``heavy`` work
        (large batches) goes to the connection's thread so the event loop stays free."""
        result = await self.run(transaction, fn, *args, heavy=heavy)
        if not self.is_memory:
            self._wrote(heavy)
        return result

    # -- checkpoints -----------------------------------------------------------------------
    def _wrote(self, heavy: bool) -> None:
        self._commits += CHECKPOINT_EVERY if heavy else 1
        if self._commits >= CHECKPOINT_EVERY and not self._checkpointing:
            self._commits, self._checkpointing = 0, True
            threading.Thread(target=self._checkpoint, name="omniq-sqlite-checkpoint",
                             daemon=True).start()

    def _checkpoint(self) -> None:
        """A PASSIVE checkpoint from a second connection: readers and writers go on meanwhile."""
        try:
            # Opened for each checkpoint (one in CHECKPOINT_EVERY commits): nothing to close
            # when the database closes.
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=0)
            with contextlib.closing(conn):
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:  # busy: the next round will do it
            logger.debug("checkpoint of %s skipped: %s", self.where, exc)
        finally:
            self._checkpointing = False

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        return await self.run(_fetchall, sql, tuple(params))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """One statement per row, in one write transaction; how many rows they changed."""
        heavy = len(rows) > HEAVY
        return (await self.write(sqlite3.Connection.executemany, sql, rows, heavy=heavy)).rowcount

    async def data_version(self) -> int:
        """Changes whenever another connection (another process) commits to the file."""
        return int((await self.fetchall("PRAGMA data_version"))[0][0])

    async def ensure_schema(self, component: str) -> None:
        """Create or upgrade ``component``'s tables (all steps in one transaction)."""
        if component not in self._schemas:
            await self.run(_migrate, component, self.where, heavy=True)
            self._schemas.add(component)


def _fetchall(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    return conn.execute(sql, params).fetchall()


def _migrate(conn: sqlite3.Connection, component: str, where: str) -> None:
    def steps(conn: sqlite3.Connection) -> list[tuple[int, list[str]]]:
        return _sql.migration_steps(component, _sql.stored_versions(conn).get(component), where)

    if not steps(conn):
        return  # up to date: nothing written

    def upgrade(conn: sqlite3.Connection) -> None:
        conn.execute(_sql.SQL["create_version_table"])
        # Again under the write lock: another process may have upgraded it meanwhile.
        for version, statements in steps(conn):
            for statement in statements:
                conn.execute(statement)
            conn.execute(_sql.SQL["set_version"], (component, version))

    transaction(conn, upgrade)
