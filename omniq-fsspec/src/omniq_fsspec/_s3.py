"""S3 for the file backend, through s3fs: exclusive create is ``PutObject`` with
``If-None-Match: *``, compare-and-swap is ``PutObject`` with ``If-Match: <etag>``; the store
answers 412 to the loser, so no lock is needed. Listings are read a page at a time in key
order, so a claim reads one small page whatever the backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from omniq.exceptions import BackendUnavailableError, ConfigError

from ._stores import Store, check_key


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


class S3Store(Store):
    """An S3 bucket (AWS, or any server that honours ``If-None-Match`` / ``If-Match`` on
    ``PutObject``) through s3fs; ``storage_options`` go to ``s3fs.S3FileSystem``."""

    parallel = 16
    check_conditions = True
    conditions = "If-None-Match / If-Match on PutObject"

    def __init__(self, path: str, storage_options: dict[str, Any]) -> None:
        try:
            import s3fs
        except ImportError as exc:
            raise ConfigError(
                "s3:// needs the s3fs package", field="base_dir", value=f"s3://{path}",
                expected="pip install 'omniq-fsspec[s3]' (from a checkout: "
                         "pip install -e './omniq-fsspec[s3]')") from exc
        options = {"use_listings_cache": False, **storage_options}
        self.fs = s3fs.S3FileSystem(**options)
        self.bucket, _, prefix = path.partition("/")
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"s3://{self.bucket}/{self.prefix}"

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return self.fs.call_s3(method, Bucket=self.bucket, **kwargs)
        except (FileNotFoundError, PermissionError, FileExistsError):
            raise
        except OSError as exc:
            if _condition_failed(exc):
                raise
            raise BackendUnavailableError(f"S3 {method} on bucket {self.bucket!r} failed: "
                                          f"{exc}") from exc

    def read(self, key: str) -> tuple[bytes, Any] | None:
        from fsspec.asyn import sync

        async def get() -> tuple[bytes, Any] | None:
            try:
                resp = await self.fs._call_s3("get_object", Bucket=self.bucket,
                                              Key=self._key(key))
            except FileNotFoundError:
                return None
            async with resp["Body"] as body:
                data = await body.read()
            return data, resp["ETag"]

        try:
            return sync(self.fs.loop, get)
        except OSError as exc:
            raise BackendUnavailableError(f"S3 read of {key!r} failed: {exc}") from exc

    def _conditional_put(self, key: str, data: bytes, **condition: str) -> bool:
        try:
            self._call("put_object", Key=self._key(key), Body=data, **condition)
        except OSError as exc:
            if _condition_failed(exc):
                return False
            raise
        return True

    def create(self, key: str, data: bytes = b"") -> bool:
        return self._conditional_put(key, data, IfNoneMatch="*")

    def swap(self, key: str, data: bytes, token: Any) -> bool:
        return self._conditional_put(key, data, IfMatch=token)

    def put(self, key: str, data: bytes) -> None:
        self._call("put_object", Key=self._key(key), Body=data)

    def delete(self, key: str) -> bool:
        # S3 answers a delete of a missing key with success, so "existed" needs a look first.
        try:
            self._call("head_object", Key=self._key(key))
        except FileNotFoundError:
            return False
        self._call("delete_object", Key=self._key(key))
        return True

    def create_many(self, keys: Collection[str]) -> None:
        """All at once: one round trip of time, not one per entry."""
        self.create_all([(key, b"") for key in keys])

    def create_all(self, items: Sequence[tuple[str, bytes]]) -> list[bool]:
        """All at once, each with ``If-None-Match: *``."""
        if len(items) <= 1:
            return super().create_all(items)
        from fsspec.asyn import sync

        async def put(key: str, data: bytes) -> bool:
            try:
                await self.fs._call_s3("put_object", Bucket=self.bucket, Key=self._key(key),
                                       Body=data, IfNoneMatch="*")
            except OSError as exc:
                if _condition_failed(exc):
                    return False
                raise
            return True

        async def put_all() -> list[bool]:
            return list(await asyncio.gather(*(put(k, d) for k, d in items)))

        try:
            return sync(self.fs.loop, put_all)
        except OSError as exc:
            raise BackendUnavailableError(f"S3 writes to {self.bucket!r} failed: {exc}") from exc

    def discard_many(self, keys: Collection[str]) -> None:
        """One ``DeleteObjects`` request (S3 deletes missing keys silently)."""
        listed = sorted(keys)
        for start in range(0, len(listed), 1000):
            objects = [{"Key": self._key(k)} for k in listed[start:start + 1000]]
            self._call("delete_objects", Delete={"Objects": objects, "Quiet": True})

    def names(self, folder: str) -> list[str]:
        return list(self.scan(folder))

    def scan(self, folder: str) -> Iterator[str]:
        """Page by page, as S3 lists in key order: a claim that needs the head reads one small
        page whatever the folder holds."""
        prefix = self._key(folder) + "/"
        token: str | None = None
        size = 64
        while True:
            extra = {"ContinuationToken": token} if token else {}
            try:
                page = self._call("list_objects_v2", Prefix=prefix, Delimiter="/",
                                  MaxKeys=size, **extra)
            except FileNotFoundError:
                return
            yield from sorted([o["Key"][len(prefix):] for o in page.get("Contents", ())]
                              + [p["Prefix"][len(prefix):].rstrip("/")
                                 for p in page.get("CommonPrefixes", ())])
            token = page.get("NextContinuationToken")
            if not token:
                return
            size = 1000

    def remove_all(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(f"{self.bucket}/{self.prefix}", recursive=True)
