"""Google Cloud Storage for the file backend, through gcsfs's client for the JSON API.

Exclusive create is an upload with ``ifGenerationMatch=0``; compare-and-swap is an upload with
``ifGenerationMatch=<generation>`` of the version read (a download answers the object's
generation in ``X-Goog-Generation``, so the swap is conditioned on exactly what was read). GCS
answers 412 to the loser. Uploads are multipart (metadata and data in one request), the form
gcsfs uses for small objects. ``storage_options`` go to ``gcsfs.GCSFileSystem`` (``token``,
``project``, ``endpoint_url``, ...). What every object store shares is in :mod:`._objects`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any
from urllib.parse import quote

from omniq.exceptions import BackendUnavailableError

from ._objects import ABSENT, ObjectStore, missing_package


class GCSStore(ObjectStore):
    """A bucket (and prefix) of Google Cloud Storage, or of a server speaking its JSON API."""

    conditions = "ifGenerationMatch on uploads"

    def __init__(self, protocol: str, path: str, storage_options: dict[str, Any]) -> None:
        try:
            import gcsfs
            from gcsfs.retry import HttpError
        except ImportError as exc:
            raise missing_package(f"{protocol}://{path}", "gcsfs", "gcs") from exc
        self.fs = gcsfs.GCSFileSystem(**storage_options)
        self._http_error = HttpError
        bucket, _, prefix = path.partition("/")
        self._locate(protocol, bucket, prefix)

    def _unavailable(self, exc: BaseException) -> bool:
        return super()._unavailable(exc) or isinstance(exc, self._http_error)

    def _object(self, key: str) -> tuple[str, str, str]:
        return "b/{}/o/{}", self.bucket, self._key(key)

    async def _read(self, key: str) -> tuple[bytes, Any] | None:
        try:
            headers, data = await self.fs._call("GET", *self._object(key), alt="media")
        except FileNotFoundError:
            return None
        generation = headers.get("X-Goog-Generation")
        if generation is None:  # GCS always sends it; without it no swap could be conditioned
            raise BackendUnavailableError(
                f"{self.url}: the download of {key!r} answered no X-Goog-Generation header, so "
                "this server cannot be used as GCS (use GCS, or a server that implements its "
                "generations)")
        return data, generation

    async def _upload(self, key: str, data: bytes, condition: Any = None) -> bool:
        match = None if condition is None else "0" if condition is ABSENT else str(condition)
        meta = json.dumps({"name": self._key(key)})
        boundary = uuid.uuid4().hex
        while boundary.encode() in data:  # a record's bytes must not end the part early
            boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{meta}"
                f"\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n"
                ).encode() + data + f"\r\n--{boundary}--".encode()
        # gcsfs answers the upload endpoint's host (GCS, or the emulator it was pointed at).
        url = f"{self.fs._location}/upload/storage/v1/b/{quote(self.bucket, safe='')}/o"
        try:
            await self.fs._call(
                "POST", url, uploadType="multipart", ifGenerationMatch=match, data=body,
                headers={"Content-Type": f'multipart/related; boundary="{boundary}"'})
        except FileExistsError:  # gcsfs's form of 412: the generation did not match
            return False
        return True

    async def _delete(self, key: str) -> bool:
        try:
            await self.fs._call("DELETE", *self._object(key))
        except FileNotFoundError:
            return False
        return True

    async def _list(self, prefix: str, size: int, token: str | None,
                    **extra: str) -> dict[str, Any]:
        page: dict[str, Any] = await self.fs._call(
            "GET", "b/{}/o", self.bucket, json_out=True, prefix=prefix, maxResults=size,
            pageToken=token, **extra)
        return page

    async def _page(self, prefix: str, size: int,
                    token: str | None) -> tuple[list[str], str | None]:
        page = await self._list(prefix, size, token, delimiter="/")
        names = ([item["name"][len(prefix):] for item in page.get("items", ())]
                 + [p[len(prefix):].rstrip("/") for p in page.get("prefixes", ())])
        return sorted(names), page.get("nextPageToken") or None

    def remove_all(self) -> None:
        async def delete_all() -> None:
            while True:  # the first page again each time: deleting moves the pages
                page = await self._list(self.prefix, 256, None)
                names = [item["name"] for item in page.get("items", ())]
                if not names:
                    return
                await asyncio.gather(*(self.fs._call("DELETE", "b/{}/o/{}", self.bucket, n)
                                       for n in names), return_exceptions=True)

        self._run(delete_all)
