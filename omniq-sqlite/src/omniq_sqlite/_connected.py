"""Where a component's database is, and the one connection per file a process shares: every
component of this process that names the same file gets the same open :class:`~._db.Database`
from :func:`acquire`, and the last :func:`release` closes it."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from omniq.config import get_setting
from omniq.exceptions import ConfigError

from ._db import DEFAULT_BUSY_TIMEOUT, MEMORY, Database


def resolve_path(project: str, *, url: str | None, database_path: str | os.PathLike[str] | None,
                 base_dir: str | os.PathLike[str] | None) -> str:
    """The database an ``sqlite`` component uses: an absolute path or ``":memory:"``.

    ``url`` (``sqlite:///relative.db``, ``sqlite:////abs.db``, ``sqlite:///:memory:``) or
    ``database_path`` name the file (relative to ``base_dir`` when given); otherwise it is
    ``<base_dir>/<project>.db`` (``base_dir`` defaults to the ``BASE_DIR`` setting), so a
    project's queue, results and events share one file beside the project."""
    if url is not None and database_path is not None:
        raise ConfigError("give url or database_path, not both", field="url", value=url)
    if url is not None:
        if not url.startswith("sqlite://"):
            raise ConfigError("not an sqlite URL", field="url", value=url,
                              expected="sqlite:///path.db, sqlite:////abs/path.db or "
                                       "sqlite:///:memory:")
        rest = url[len("sqlite://"):].split("?", 1)[0]
        if rest and not rest.startswith("/"):
            raise ConfigError("sqlite URL has a host part", field="url", value=url,
                              expected="three slashes: sqlite:///path.db")
        database_path = rest[1:]  # empty (sqlite:// or sqlite:///): in memory, as below
    if database_path is not None:
        text = os.fspath(database_path)
        if text in (MEMORY, ""):
            return MEMORY
        path = Path(text).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir).expanduser() / path
        return str(path.absolute())
    base = Path(base_dir if base_dir is not None else get_setting("BASE_DIR")).expanduser()
    return str((base / f"{project}.db").absolute())


_registry: dict[tuple[int, str], Database] = {}
_registry_lock = threading.Lock()


async def acquire(path: str, busy_timeout: float) -> Database:
    """The open database at ``path``, opening it if this process has not yet."""
    key = (os.getpid(), path)  # a forked child must not reuse its parent's connection
    with _registry_lock:
        if opener := key not in _registry:
            _registry[key] = Database(path, busy_timeout)
        db = _registry[key]
        db.users += 1
    if opener:
        try:
            await db.open()
        except BaseException as exc:
            with _registry_lock:  # still ours: its other users wait for ready
                del _registry[key]
            db.ready.set_exception(exc)
            raise
        db.ready.set_result(None)
    else:
        try:
            await asyncio.wrap_future(db.ready)
        except BaseException:
            with _registry_lock:
                db.users -= 1
            raise
    return db


async def release(db: Database) -> None:
    """Give back a database from :func:`acquire`; the last user closes it."""
    with _registry_lock:
        db.users -= 1
        if db.users > 0:
            return
        if _registry.get((os.getpid(), db.path)) is db:
            del _registry[(os.getpid(), db.path)]
    await db.close()


class SQLiteConnected:
    """Mixin of the three components: where their database is, and connecting to it.

    Args:
        project_name: Namespace of this project's rows, and the default file name.
        url: ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or ``sqlite:///:memory:``.
        database_path: Path of the database file, or ``":memory:"``.
        base_dir: Directory of ``<project_name>.db`` when no path is given (default: the
            ``BASE_DIR`` setting, ``.omniq`` in the current directory); also the base of a
            relative ``database_path``.
        busy_timeout: Seconds to wait for another process's write lock before giving up.
        secret_key: Signing key.
    """

    #: The schema component this class owns: "tasks", "results" or "events".
    schema: ClassVar[str] = ""
    project_name: str

    def __init__(self, *, project_name: str | None = None, secret_key: str | None = None,
                 url: str | None = None, database_path: str | os.PathLike[str] | None = None,
                 base_dir: str | os.PathLike[str] | None = None,
                 busy_timeout: float | None = None) -> None:
        # The stores' constructor (the queue has its own, with `queues`).
        super().__init__(project_name=project_name, secret_key=secret_key)  # type: ignore[call-arg]
        self._locate(url, database_path, base_dir, busy_timeout)

    def _locate(self, url: str | None, database_path: str | os.PathLike[str] | None,
                base_dir: str | os.PathLike[str] | None, busy_timeout: float | None) -> None:
        self.database_path = resolve_path(self.project_name, url=url,
                                          database_path=database_path, base_dir=base_dir)
        self.busy_timeout = DEFAULT_BUSY_TIMEOUT if busy_timeout is None else float(busy_timeout)
        self._db: Database | None = None

    async def _connect(self) -> None:
        db = await acquire(self.database_path, self.busy_timeout)
        try:
            await db.ensure_schema(self.schema)
        except BaseException:
            await release(db)
            raise
        self._db = db

    async def _close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            await release(db)

    async def _database(self) -> Database:
        """The open database, connecting on first use."""
        if self._db is None:
            await self.connect()  # type: ignore[attr-defined]
        assert self._db is not None
        return self._db

    async def _fetchall(self, sql: str, params: Sequence[Any]) -> list[Any]:
        return await (await self._database()).fetchall(sql, params)

    async def _execute(self, sql: str, params: Sequence[Any], *, heavy: bool = False) -> int:
        """One statement in its own write transaction; how many rows it changed."""
        db = await self._database()
        return (await db.write(sqlite3.Connection.execute, sql, params, heavy=heavy)).rowcount
