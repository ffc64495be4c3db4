"""Azure Blob Storage for the file backend, through adlfs and the azure SDK client it holds.

Exclusive create is an upload with ``If-None-Match: *`` (``overwrite=False``);
compare-and-swap is an upload with ``If-Match: <etag>`` of the version read (the read and its
ETag come from one download, so the swap is conditioned on exactly what was read). The service
answers 409 or 412 to the loser, so no lock is needed. adlfs's own calls do not return the
ETag of what they read, hence the SDK's blob client (``fs.service_client``) for reads and
writes; listings walk a container a page at a time, in name order, as Azure lists.
``storage_options`` go to ``adlfs.AzureBlobFileSystem`` (``connection_string``,
``account_name`` + ``account_key`` / ``sas_token`` / ``credential``, ...).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from typing import Any, TypeVar

from omniq.exceptions import BackendUnavailableError, ConfigError

from ._stores import Store, check_key

T = TypeVar("T")


class AzureStore(Store):
    """A container (and prefix) of an Azure storage account, or of Azurite."""

    parallel = 16
    check_conditions = True
    conditions = "If-None-Match / If-Match on Put Blob"

    def __init__(self, protocol: str, path: str, storage_options: dict[str, Any]) -> None:
        try:
            import adlfs
            from azure.core import MatchConditions
            from azure.core import exceptions as errors
        except ImportError as exc:
            raise ConfigError(
                f"{protocol}:// needs the adlfs package", field="base_dir",
                value=f"{protocol}://{path}",
                expected="pip install 'omniq-fsspec[azure]' (from a checkout: "
                         "pip install -e './omniq-fsspec[azure]')") from exc
        self.fs = adlfs.AzureBlobFileSystem(**storage_options)
        self._unchanged = MatchConditions.IfNotModified
        self._errors = errors
        self.container, prefix, _ = self.fs.split_path(f"{protocol}://{path}")
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"{protocol}://{self.container}/{self.prefix}"

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _run(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()`` on adlfs's event loop; a failure of the service or of the connection
        becomes :class:`BackendUnavailableError`."""
        from fsspec.asyn import sync

        try:
            return sync(self.fs.loop, call)
        except (self._errors.ServiceRequestError, self._errors.ServiceResponseError,
                self._errors.HttpResponseError) as exc:
            raise BackendUnavailableError(
                f"Azure Blob call on container {self.container!r} failed: {exc}") from exc

    def _blob(self, key: str) -> Any:
        return self.fs.service_client.get_blob_client(self.container, self._key(key))

    def read(self, key: str) -> tuple[bytes, Any] | None:
        async def get() -> tuple[bytes, Any] | None:
            try:
                stream = await self._blob(key).download_blob()
                return await stream.readall(), stream.properties.etag
            except self._errors.ResourceNotFoundError:
                return None

        return self._run(get)

    async def _upload(self, key: str, data: bytes, **condition: Any) -> bool:
        try:
            await self._blob(key).upload_blob(data, **condition)
        except (self._errors.ResourceExistsError, self._errors.ResourceModifiedError,
                self._errors.ResourceNotFoundError):
            return False  # the condition failed: another writer got there first
        return True

    def create(self, key: str, data: bytes = b"") -> bool:
        return self._run(lambda: self._upload(key, data, overwrite=False))

    def swap(self, key: str, data: bytes, token: Any) -> bool:
        return self._run(lambda: self._upload(key, data, overwrite=True, etag=token,
                                              match_condition=self._unchanged))

    def put(self, key: str, data: bytes) -> None:
        self._run(lambda: self._blob(key).upload_blob(data, overwrite=True))

    async def _delete(self, key: str) -> bool:
        try:
            await self._blob(key).delete_blob()
        except self._errors.ResourceNotFoundError:
            return False
        return True

    def delete(self, key: str) -> bool:
        return self._run(lambda: self._delete(key))

    def create_many(self, keys: Collection[str]) -> None:
        """All at once: one round trip of time, not one per entry."""
        self.create_all([(key, b"") for key in keys])

    def create_all(self, items: Sequence[tuple[str, bytes]]) -> list[bool]:
        async def upload_all() -> list[bool]:
            return list(await asyncio.gather(*(self._upload(k, d, overwrite=False)
                                               for k, d in items)))

        return self._run(upload_all)

    def discard_many(self, keys: Collection[str]) -> None:
        async def delete_all() -> None:
            await asyncio.gather(*(self._delete(k) for k in keys))

        self._run(delete_all)

    async def _page(self, prefix: str, size: int,
                    token: str | None) -> tuple[list[str], str | None]:
        """One page of the names under ``prefix`` and the token of the next (None: last)."""
        container = self.fs.service_client.get_container_client(self.container)
        pages = container.walk_blobs(name_starts_with=prefix, delimiter="/",
                                     results_per_page=size).by_page(continuation_token=token)
        names: list[str] = []
        async for page in pages:
            names += [item.name[len(prefix):].rstrip("/") async for item in page]
            break
        return sorted(names), pages.continuation_token or None

    def scan(self, folder: str) -> Iterator[str]:
        """Page by page, in name order: a claim that needs the head reads one small page."""
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

    def remove_all(self) -> None:
        async def delete_all() -> None:
            container = self.fs.service_client.get_container_client(self.container)
            keys = [blob.name async for blob in container.list_blobs(
                name_starts_with=self.prefix)]
            for start in range(0, len(keys), 256):
                await asyncio.gather(*(container.delete_blob(k) for k in keys[start:start + 256]),
                                     return_exceptions=True)

        self._run(delete_all)
