"""S3 for the file backend, through s3fs: exclusive create is ``PutObject`` with
``If-None-Match: *``, compare-and-swap is ``PutObject`` with ``If-Match: <etag>``; the store
answers 412 to the loser. What every object store shares is in :mod:`._objects`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from typing import Any

from ._objects import ABSENT, ObjectStore, missing_package

#: botocore's errors for an endpoint that does not answer (they are not OSErrors).
_UNREACHABLE = {"EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError",
                "ConnectionClosedError"}


def _condition_failed(exc: BaseException) -> bool:
    """Whether S3 refused a conditional write (412, or 409 for a concurrent one)."""
    seen: BaseException | None = exc
    while seen is not None:
        response = getattr(seen, "response", None)
        if isinstance(response, dict):
            code = str(response.get("Error", {}).get("Code", ""))
            if code in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                return True
        seen = seen.__cause__
    return isinstance(exc, FileExistsError)


class S3Store(ObjectStore):
    """An S3 bucket (AWS, or any server that honours ``If-None-Match`` / ``If-Match`` on
    ``PutObject``) through s3fs; ``storage_options`` go to ``s3fs.S3FileSystem``."""

    conditions = "If-None-Match / If-Match on PutObject"

    def __init__(self, path: str, storage_options: dict[str, Any]) -> None:
        try:
            import s3fs
        except ImportError as exc:
            raise missing_package(f"s3://{path}", "s3fs", "s3") from exc
        options = {"use_listings_cache": False, **storage_options}
        self.fs = s3fs.S3FileSystem(**options)
        bucket, _, prefix = path.partition("/")
        self._locate("s3", bucket, prefix)

    def _unavailable(self, exc: BaseException) -> bool:
        unreachable = {c.__name__ for c in type(exc).__mro__} & _UNREACHABLE
        return (super()._unavailable(exc) or bool(unreachable)) and not _condition_failed(exc)

    async def _s3(self, method: str, **kwargs: Any) -> Any:
        return await self.fs._call_s3(method, Bucket=self.bucket, **kwargs)

    async def _read(self, key: str) -> tuple[bytes, Any] | None:
        try:
            resp = await self._s3("get_object", Key=self._key(key))
        except FileNotFoundError:
            return None
        async with resp["Body"] as body:
            data = await body.read()
        return data, resp["ETag"]

    async def _upload(self, key: str, data: bytes, condition: Any = None) -> bool:
        extra = ({} if condition is None else {"IfNoneMatch": "*"} if condition is ABSENT
                 else {"IfMatch": condition})
        try:
            await self._s3("put_object", Key=self._key(key), Body=data, **extra)
        except OSError as exc:
            if _condition_failed(exc):
                return False
            raise
        return True

    async def _delete(self, key: str) -> bool:
        # S3 answers a delete of a missing key with success, so "existed" needs a look first.
        try:
            await self._s3("head_object", Key=self._key(key))
        except FileNotFoundError:
            return False
        await self._s3("delete_object", Key=self._key(key))
        return True

    def discard_many(self, keys: Collection[str]) -> None:
        """One ``DeleteObjects`` request per 1,000 (S3 deletes missing keys silently)."""
        listed = sorted(keys)
        for start in range(0, len(listed), 1000):
            objects = [{"Key": self._key(k)} for k in listed[start:start + 1000]]
            self._run(lambda o=objects: self._s3(  # type: ignore[misc]
                "delete_objects", Delete={"Objects": o, "Quiet": True}))

    async def _page(self, prefix: str, size: int,
                    token: str | None) -> tuple[list[str], str | None]:
        extra = {"ContinuationToken": token} if token else {}
        try:
            page = await self._s3("list_objects_v2", Prefix=prefix, Delimiter="/",
                                  MaxKeys=size, **extra)
        except FileNotFoundError:
            return [], None
        names = ([o["Key"][len(prefix):] for o in page.get("Contents", ())]
                 + [p["Prefix"][len(prefix):].rstrip("/") for p in page.get("CommonPrefixes", ())])
        return sorted(names), page.get("NextContinuationToken") or None

    def remove_all(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(f"{self.bucket}/{self.prefix}", recursive=True)
