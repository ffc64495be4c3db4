"""Plumbing every component shares: project name, signing, lazy connect, context managers and
the ``from_config`` / ``from_dict`` / ``from_config_file`` / ``from_backend`` constructors."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

import anyio
import msgspec

from .config import get_setting, redact_url, validate_name
from .exceptions import ConfigError
from .serialization import Keyring, Serializer


class AsyncComponent:
    """Base of task queues, result stores, event stores and backends.

    Components connect lazily on first use, so ``queue.enqueue(...)`` works without a ``with``
    block; ``async with`` (or ``with`` on the sync twin) closes what was opened.
    """

    #: Registry kind: "task_queue", "result_store", "event_store", "backend" or "worker".
    kind: ClassVar[str] = ""
    #: The msgspec Struct describing the constructor's parameters, if the class has one.
    config_class: ClassVar[type[msgspec.Struct] | None] = None

    def __init__(self, *, project_name: str | None = None, secret_key: str | None = None) -> None:
        self.project_name = validate_name("project", project_name or get_setting("PROJECT_NAME"))
        self._secret_key = checked_secret_key(secret_key)
        self._serializer: Serializer | None = None
        self._connected = False
        self._connect_lock: anyio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop  # the one it connected in, once connected
        self._forks = 0  # forks_so_far() when it connected

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {location_of(self)} project={self.project_name!r}>"

    # -- signing -------------------------------------------------------------------------------
    @property
    def serializer(self) -> Serializer:
        """Signs and verifies payloads with the project's key (created on first use)."""
        if self._serializer is None:
            secret = self._secret_key or get_setting("SECRET_KEY")
            self._serializer = Serializer(Keyring.for_project(self.project_name, secret))
        return self._serializer

    @serializer.setter
    def serializer(self, value: Serializer) -> None:
        self._serializer = value

    # -- lifecycle -----------------------------------------------------------------------------
    async def _connect(self) -> None:
        """Open connections, create schemas. Called once, on first use."""

    async def _close(self) -> None:
        """Close only what ``_connect`` opened."""

    async def connect(self) -> None:
        if self._connected:
            if not self._loop.is_closed() and self._forks == forks_so_far():
                return
            if self._forked:
                raise ConfigError(
                    f"this {type(self).__name__} connected before the process forked (os.fork, "
                    "gunicorn --preload, a multiprocessing 'fork' child): its connections are "
                    "the parent's, and using them here would break the parent's too",
                    hint="create the client in the child, after the fork (gunicorn: its "
                         "post_fork hook, or no --preload), or close() it before forking")
            await self._forget_the_ended_loop()
        _refuse_in_a_starting_child()
        if self._connect_lock is None:
            self._connect_lock = anyio.Lock()
        async with self._connect_lock:
            if not self._connected:
                try:
                    await self._connect()
                except BaseException:
                    await self._close()  # release whatever was opened before the failure
                    raise
                self._loop, self._forks = asyncio.get_running_loop(), forks_so_far()
                self._connected = True

    @property
    def _forked(self) -> bool:
        """Whether this component connected in a parent of this (forked) process."""
        return self._connected and self._forks != forks_so_far()

    def _connected_in(self, loop: asyncio.AbstractEventLoop) -> bool:
        return self._connected and self._loop is loop

    @property
    def _loop_ended(self) -> bool:
        """Whether the event loop this component connected in has ended (its connections,
        and a worker's tasks, ended with it)."""
        return self._connected and self._loop.is_closed()

    async def _forget_the_ended_loop(self) -> None:
        """The event loop this component connected in has ended (``asyncio.run`` returned)
        and it is used in another: its connections died with that loop. Release what can be
        released, briefly, so that :meth:`connect` opens new ones in this loop."""
        self._connected, self._connect_lock = False, None
        with anyio.move_on_after(1), contextlib.suppress(Exception):
            await self._close()

    async def close(self) -> None:
        if self._forked:  # the parent's connections: closing them would close them for it
            self._connected = False
        elif self._loop_ended:  # nothing of them can be closed through the loop they used
            await self._forget_the_ended_loop()
        elif self._connected:
            self._connected = False
            await self._close()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- alternative constructors --------------------------------------------------------------
    @classmethod
    def from_dict(cls, config: Mapping[str, Any], *, source: str | None = None) -> Self:
        """Build from keyword arguments in a mapping; unknown keys are a ConfigError."""
        if not isinstance(config, Mapping):
            raise ConfigError(f"{cls.__name__} config must be a mapping", value=config,
                              expected="a mapping of constructor arguments", source=source)
        _check_parameters(cls, config, source)
        return cls(**dict(config))

    @classmethod
    def from_config(cls, config: msgspec.Struct | Mapping[str, Any]) -> Self:
        """Build from a config struct (``SQLiteTaskQueueConfig(...)``) or a mapping."""
        if isinstance(config, msgspec.Struct):
            data = {f: getattr(config, f) for f in config.__struct_fields__}
            return cls.from_dict({k: v for k, v in data.items() if v is not None})
        return cls.from_dict(config)

    @classmethod
    def from_config_file(cls, path: str | Path) -> Self:
        """Build from a YAML file holding the constructor arguments (or ``{type, config}``)."""
        from .config import read_yaml_mapping

        data = read_yaml_mapping(path)
        if "config" in data and set(data) <= {"type", "config", "url"}:
            data = {**(data.get("config") or {}), **({"url": data["url"]} if "url" in data else {})}
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_backend(cls, backend: Any, **overrides: Any) -> Any:
        """This kind of component, built by a backend bundle (``TaskQueue.from_backend(b)``)."""
        from ._sync import as_async

        if cls.kind not in ("task_queue", "result_store", "event_store"):
            raise ConfigError(f"{cls.__name__} cannot be built from a backend",
                              value=backend, expected="a task queue, result or event store")
        return getattr(as_async(backend), f"create_{cls.kind}")(**overrides)


def _check_parameters(cls: type, config: Mapping[str, Any], source: str | None) -> None:
    params = inspect.signature(cls).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(set(config) - set(params))
    if unknown:
        raise ConfigError(f"unknown option(s) for {cls.__name__}: {', '.join(unknown)}",
                          field=unknown[0], value=config[unknown[0]], source=source,
                          expected=f"one of {', '.join(sorted(p for p in params if p != 'self'))}")


def _refuse_in_a_starting_child() -> None:
    """Refuse to connect while a new process re-runs the program's main module.

    multiprocessing's ``spawn`` and ``forkserver`` start methods (the process_pool worker uses
    spawn) import the main module again in every child, as ``__mp_main__``, so code outside
    ``if __name__ == "__main__":`` runs once more per child: connecting there would enqueue the
    program's tasks again and start a worker, and its children, in every child.
    """
    multiprocessing = sys.modules.get("multiprocessing")
    # The flag multiprocessing itself checks before refusing to start a process this early.
    if multiprocessing is not None and getattr(multiprocessing.current_process(),
                                               "_inheriting", False):
        raise ConfigError(
            "OmniQ was used by code that runs again in every new process: multiprocessing's "
            "spawn start method (the process_pool worker's) imports your main module in each "
            "child it starts",
            hint='put the code that enqueues tasks and starts workers under '
                 '`if __name__ == "__main__":`')


_forks = 0


def forks_so_far() -> int:
    """How many times this process, or one of its ancestors since OmniQ was imported, is the
    child of a fork: what a component connected in compares with what it sees now."""
    return _forks


def _count_a_fork() -> None:
    global _forks
    _forks += 1


os.register_at_fork(after_in_child=_count_a_fork)


def location_of(component: Any) -> str:
    """Where ``component`` keeps its data, for logs and reprs: a URL, DSN or path, passwords
    hidden."""
    for attribute in ("dsn", "url", "where", "database_path", "location"):
        value = getattr(component, attribute, None)
        if isinstance(value, str) and value:
            return redact_url(value)
    return "in this process"


def checked_secret_key(secret_key: Any) -> str | None:
    """``secret_key`` if it is one (None: the environment's or this machine's key). An empty
    one given on purpose is refused: taken as unset, it signed with each machine's own key,
    and tasks failed their signature on every other machine (a template that rendered
    ``secret_key: ${SECRET:-}`` with SECRET unset, say)."""
    if secret_key is None:
        return None
    if not isinstance(secret_key, str) or not any(k.strip() for k in secret_key.split(",")):
        raise ConfigError("secret_key must be a non-empty string", field="secret_key",
                          value=secret_key, expected="the project's signing key, the same on "
                          "every client and worker (several, comma-separated, rotate: the "
                          "first signs); leave it out for OMNIQ_SECRET_KEY, else this "
                          "machine's generated key")
    return secret_key
