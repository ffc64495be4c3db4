"""Azure Blob Storage for the file backend, through adlfs and the azure SDK client it holds.

Exclusive create is an upload with ``If-None-Match: *`` (``overwrite=False``);
compare-and-swap is an upload with ``If-Match: <etag>`` of the version read (the read and its
ETag come from one download, so the swap is conditioned on exactly what was read). The service
answers 409 or 412 to the loser. adlfs's own calls do not return the ETag of what they read,
hence the SDK's blob client (``fs.service_client``) for reads, writes and listings.
``storage_options`` go to ``adlfs.AzureBlobFileSystem`` (``connection_string``,
``account_name`` + ``account_key`` / ``sas_token`` / ``credential``, ...). What every object
store shares is in :mod:`._objects`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ._objects import ABSENT, ObjectStore, missing_package


class AzureStore(ObjectStore):
    """A container (and prefix) of an Azure storage account, or of Azurite."""

    conditions = "If-None-Match / If-Match on Put Blob"

    def __init__(self, protocol: str, path: str, storage_options: dict[str, Any]) -> None:
        try:
            import adlfs
            from azure.core import MatchConditions
            from azure.core import exceptions as errors
        except ImportError as exc:
            raise missing_package(f"{protocol}://{path}", "adlfs", "azure") from exc
        self.fs = adlfs.AzureBlobFileSystem(**storage_options)
        self._unchanged = MatchConditions.IfNotModified
        self._errors = errors
        container, prefix, _ = self.fs.split_path(f"{protocol}://{path}")
        self._locate(protocol, container, prefix)

    def _unavailable(self, exc: BaseException) -> bool:
        return isinstance(exc, self._errors.ServiceRequestError
                          | self._errors.ServiceResponseError | self._errors.HttpResponseError)

    def _blob(self, key: str) -> Any:
        return self.fs.service_client.get_blob_client(self.bucket, self._key(key))

    async def _read(self, key: str) -> tuple[bytes, Any] | None:
        try:
            stream = await self._blob(key).download_blob()
            return await stream.readall(), stream.properties.etag
        except self._errors.ResourceNotFoundError:
            return None

    async def _upload(self, key: str, data: bytes, condition: Any = None) -> bool:
        extra = ({"overwrite": True} if condition is None
                 else {"overwrite": False} if condition is ABSENT
                 else {"overwrite": True, "etag": condition, "match_condition": self._unchanged})
        try:
            await self._blob(key).upload_blob(data, **extra)
        except (self._errors.ResourceExistsError, self._errors.ResourceModifiedError,
                self._errors.ResourceNotFoundError):
            return False  # the condition failed: another writer got there first
        return True

    async def _delete(self, key: str) -> bool:
        try:
            await self._blob(key).delete_blob()
        except self._errors.ResourceNotFoundError:
            return False
        return True

    async def _page(self, prefix: str, size: int,
                    token: str | None) -> tuple[list[str], str | None]:
        container = self.fs.service_client.get_container_client(self.bucket)
        pages = container.walk_blobs(name_starts_with=prefix, delimiter="/",
                                     results_per_page=size).by_page(continuation_token=token)
        names: list[str] = []
        async for page in pages:
            names += [item.name[len(prefix):].rstrip("/") async for item in page]
            break
        return sorted(names), pages.continuation_token or None

    def remove_all(self) -> None:
        async def delete_all() -> None:
            container = self.fs.service_client.get_container_client(self.bucket)
            keys = [blob.name async for blob in container.list_blobs(
                name_starts_with=self.prefix)]
            for start in range(0, len(keys), 256):
                await asyncio.gather(*(container.delete_blob(k) for k in keys[start:start + 256]),
                                     return_exceptions=True)

        self._run(delete_all)
