"""Where a component's files are, and running store calls off the event loop.

The location is ``url`` or ``base_dir`` (a local path or any fsspec URL), else the
``FSSPEC_URI`` setting, else the ``BASE_DIR`` setting; each project keeps its files in the
folder ``<location>/<project_name>``. The location is checked when the component is built
(:func:`._stores.check_location`); the store itself is opened on first use.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

import anyio
from omniq.config import get_setting
from omniq.exceptions import ConfigError

from ._stores import Store, check_location, open_store

T = TypeVar("T")


def resolve_location(url: str | None, base_dir: str | os.PathLike[str] | None) -> str:
    if url is not None and base_dir is not None:
        raise ConfigError("give url or base_dir, not both", field="url", value=url,
                          expected="one location: a directory or an fsspec URL")
    location = url if url is not None else None if base_dir is None else os.fspath(base_dir)
    if location is None:
        location = get_setting("FSSPEC_URI") or get_setting("BASE_DIR")
    if not isinstance(location, str) or not location.strip():
        raise ConfigError("empty file location", field="base_dir", value=location,
                          expected="a directory or an fsspec URL such as s3://bucket/prefix")
    return location.strip()


class FileLocated:
    """Mixin of the file components: their location and their store."""

    #: Whether the component claims tasks (a task queue), so its store must be atomic.
    needs_claims: ClassVar[bool] = False
    project_name: str

    def __init__(self, *, project_name: str | None = None, secret_key: str | None = None,
                 url: str | None = None, base_dir: str | os.PathLike[str] | None = None,
                 storage_options: Mapping[str, Any] | None = None) -> None:
        # The result and event stores' constructor; the base after this one in the MRO
        # (AsyncResultStore, AsyncEventStore) takes the project and key.
        super().__init__(project_name=project_name, secret_key=secret_key)  # type: ignore[call-arg]
        self._locate(url, base_dir, storage_options)

    def _locate(self, url: str | None, base_dir: str | os.PathLike[str] | None,
                storage_options: Mapping[str, Any] | None) -> None:
        self.location = resolve_location(url, base_dir)
        check_location(self.location, needs_claims=self.needs_claims)
        if storage_options is not None and not isinstance(storage_options, Mapping):
            raise ConfigError("storage_options must be a mapping", field="storage_options",
                              value=storage_options, expected="a dict passed to the fsspec "
                              "filesystem, e.g. {'key': ..., 'secret': ...}")
        self.storage_options = dict(storage_options or {})
        self._store: Store | None = None

    @property
    def project_location(self) -> str:
        """The folder (or URL) of this project's files."""
        return f"{self.location.rstrip('/')}/{self.project_name}"

    async def _connect(self) -> None:
        store = await anyio.to_thread.run_sync(open_store, self.project_location,
                                               self.storage_options)
        if self.needs_claims:
            await anyio.to_thread.run_sync(store.probe)
        self._store = store

    async def _close(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            store.close()

    async def _run(self, call: Callable[..., T], *args: Any) -> T:
        """``call(store, *args)``, in a worker thread when the store does blocking I/O."""
        if self._store is None:
            await self.connect()  # type: ignore[attr-defined]
        store = self._store
        assert store is not None
        if store.blocking:
            return await anyio.to_thread.run_sync(call, store, *args)
        return call(store, *args)

    async def _run_batch(self, call: Callable[..., list[T]], items: list[Any]) -> list[T]:
        """``call(store, items)`` as several calls on slices of ``items`` at once, on stores
        where each item costs round trips (object stores); the answers in ``items``' order."""
        if self._store is None:
            await self.connect()  # type: ignore[attr-defined]
        assert self._store is not None
        width = self._store.parallel
        if width <= 1 or len(items) <= 1:
            return await self._run(call, items)
        size = -(-len(items) // width)
        slices = [items[i:i + size] for i in range(0, len(items), size)]
        answers: list[list[T]] = [[] for _ in slices]

        async def one(index: int) -> None:
            answers[index] = await self._run(call, slices[index])

        async with anyio.create_task_group() as group:
            for index in range(len(slices)):
                group.start_soon(one, index)
        return [answer for part in answers for answer in part]
