"""What the object stores (S3, Azure Blob, GCS) share: a bucket and a prefix, conditional
uploads that the service refuses to the loser (so no lock is needed), calls made on the fsspec
filesystem's event loop, many writes at once, and listings read a page at a time in key order
(so a claim reads one small page whatever the backlog). Each store gives the few async calls
of its API: read with version, upload (unconditional, exclusive or on a version), delete, and
one page of a listing.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from typing import Any, Final, TypeVar

from omniq.exceptions import BackendUnavailableError, ConfigError

from ._stores import Store, check_key

T = TypeVar("T")

#: The ``condition`` of :meth:`ObjectStore._upload` for an exclusive create.
ABSENT: Final = object()


def missing_package(url: str, package: str, extra: str) -> ConfigError:
    """The error for an object store URL whose client package is not installed."""
    scheme = url.split("://", 1)[0]
    return ConfigError(f"{scheme}:// needs the {package} package", field="base_dir", value=url,
                       expected=f"pip install 'omniq-fsspec[{extra}]' (from a checkout: "
                                f"pip install -e './omniq-fsspec[{extra}]')")


class ObjectStore(Store):
    """A bucket (or container) and prefix of an object store; subclasses set ``fs`` (an async
    fsspec filesystem, whose loop runs the calls) and call :meth:`_locate`."""

    parallel = 16
    check_conditions = True
    fs: Any
    bucket = ""
    prefix = ""

    def _locate(self, protocol: str, bucket: str, prefix: str) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"{protocol}://{bucket}/{self.prefix}"

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _unavailable(self, exc: BaseException) -> bool:
        """Whether ``exc``, raised by a call, is the service or the connection failing."""
        return isinstance(exc, OSError) and not isinstance(
            exc, FileNotFoundError | FileExistsError | PermissionError)

    def _run(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()`` on the filesystem's loop; a failing service becomes
        :class:`BackendUnavailableError`."""
        from fsspec.asyn import sync

        try:
            return sync(self.fs.loop, call)
        except Exception as exc:
            if self._unavailable(exc):
                raise BackendUnavailableError(f"a call to {self.url} failed: {exc}") from exc
            refused = self._refused(exc)
            if refused is not None:
                raise refused from exc
            raise

    def _refused(self, exc: BaseException) -> ConfigError | None:
        """A refusal that a setting causes, said with the setting to change (the calls treat
        a missing object as absent, so a FileNotFoundError here is the bucket's)."""
        name = type(exc).__name__
        if isinstance(exc, FileNotFoundError):
            return ConfigError(f"the bucket {self.bucket!r} of {self.url} does not exist "
                               f"({exc})", field="base_dir", value=self.url,
                               expected="an existing bucket (or container): create it, or "
                                        "correct the name")
        if isinstance(exc, PermissionError) or name in ("NoCredentialsError",
                                                         "PartialCredentialsError"):
            return ConfigError(f"{self.url} refused the credentials: {exc}",
                               field="storage_options", value="(not shown)",
                               expected="credentials allowed to read and write there "
                                        "(storage_options, or the provider's environment "
                                        "variables or profile)")
        if name == "ParamValidationError":
            return ConfigError(f"{self.url} is not a valid address: {exc}", field="base_dir",
                               value=self.url, expected="a bucket name the provider accepts")
        if isinstance(exc, TypeError) and "unexpected keyword argument" in str(exc):
            return ConfigError(f"storage_options holds an option {type(self.fs).__name__} "
                               f"does not take: {exc}", field="storage_options",
                               value="(not shown)", expected="the filesystem's own options")
        return None

    @abc.abstractmethod
    async def _read(self, key: str) -> tuple[bytes, Any] | None:
        """The object's bytes and the version they are (for :meth:`swap`), or None."""

    @abc.abstractmethod
    async def _upload(self, key: str, data: bytes, condition: Any = None) -> bool:
        """Write the object: unconditionally (None), only if absent (:data:`ABSENT`) or only
        if it is still the version ``condition``; False when the store refused the condition."""

    @abc.abstractmethod
    async def _delete(self, key: str) -> bool:
        """Remove the object; whether it existed."""

    @abc.abstractmethod
    async def _page(self, prefix: str, size: int,
                    token: str | None) -> tuple[list[str], str | None]:
        """One page (at most ``size``) of the names directly under ``prefix``, sorted, and
        the token of the next page (None: that was the last)."""

    def read(self, key: str) -> tuple[bytes, Any] | None:
        return self._run(lambda: self._read(key))

    def create(self, key: str, data: bytes = b"") -> bool:
        return self._run(lambda: self._upload(key, data, ABSENT))

    def swap(self, key: str, data: bytes, token: Any) -> bool:
        return self._run(lambda: self._upload(key, data, token))

    def put(self, key: str, data: bytes) -> None:
        self._run(lambda: self._upload(key, data))

    def delete(self, key: str) -> bool:
        return self._run(lambda: self._delete(key))

    def create_all(self, items: Sequence[tuple[str, bytes]]) -> list[bool]:
        """All at once, each exclusive: one round trip of time, not one per object."""
        async def upload_all() -> list[bool]:
            return list(await asyncio.gather(*(self._upload(k, d, ABSENT) for k, d in items)))

        return self._run(upload_all)

    def create_many(self, keys: Collection[str]) -> None:
        self.create_all([(key, b"") for key in keys])

    def discard_many(self, keys: Collection[str]) -> None:
        async def delete_all() -> None:
            await asyncio.gather(*(self._delete(k) for k in keys))

        self._run(delete_all)

    def scan(self, folder: str) -> Iterator[str]:
        """Page by page, in key order: a claim that needs the head reads one small page."""
        prefix = self._key(folder) + "/"
        token: str | None = None
        size = 64
        while True:
            names, token = self._run(lambda: self._page(prefix, size, token))  # noqa: B023
            yield from names
            if token is None:
                return
            size = 1000

    def names(self, folder: str) -> list[str]:
        return list(self.scan(folder))
