"""The few storage primitives the file backend needs, on each kind of store.

Every component works on a :class:`Store`: keys are ``/``-separated paths under the store's
root (``<location>/<project>``), and the primitives are read-with-version, exclusive create,
compare-and-swap, overwrite, delete and a sorted listing of one folder. How each store makes the
conditional ones atomic (``docs/user_guide/backends/file.qmd`` has the table):

* a local directory: records are written to a temporary file and renamed into place (readers
  never see half a record); exclusive create is ``link(2)`` of that file (fails if the name
  exists); the read-compare-write of one record runs under an ``flock(2)`` on one of 64 lock
  files (picked by a hash of the record's name), which the kernel releases if the process dies;
* ``memory://`` (fsspec's process-wide memory filesystem): one process-wide lock;
* S3 (:mod:`._s3`) and Azure Blob Storage (:mod:`._azure`): uploads with ``If-None-Match: *``
  (create) and ``If-Match: <etag>`` (swap); GCS (:mod:`._gcs`): uploads with
  ``ifGenerationMatch=0`` (create) and ``ifGenerationMatch=<generation>`` (swap); the store
  refuses the loser, so no lock is needed (:mod:`._objects` has what they share).

A store that offers none of these cannot claim atomically: :func:`check_location` refuses it
when a component is constructed, saying why.
"""

from __future__ import annotations

import abc
import contextlib
import os
import re
import threading
import uuid
import zlib
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from omniq.exceptions import ConfigError

from ._listings import FolderIndex, WatchedListings, walk_from_head

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: Protocols whose conditional writes this backend implements, by store kind.
KINDS = {"file": "local", "local": "local", "memory": "memory", "s3": "s3", "s3a": "s3",
         "abfs": "azure", "abfss": "azure", "az": "azure", "gs": "gcs", "gcs": "gcs"}
#: Protocols fsspec knows but where this release has no conditional writes: results and events
#: (plain writes) work there, a task queue does not.
UNCONDITIONAL = {"adl": "Azure Data Lake Gen1 offers no conditional writes"}
_KEY = re.compile(r"(?:[A-Za-z0-9_~][A-Za-z0-9_.~=-]*)(?:/[A-Za-z0-9_~][A-Za-z0-9_.~=-]*)*")
LOCK_STRIPES = 64


def split_location(location: str) -> tuple[str, str]:
    """``(protocol, path)`` of a local path or fsspec URL (``file:///p``, ``s3://b/p``)."""
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$", location)
    if match is None:
        return "file", os.path.abspath(os.path.expanduser(location))
    protocol, path = match.group(1).lower(), match.group(2)
    if protocol in ("file", "local"):
        return "file", os.path.abspath(os.path.expanduser(path or "/"))
    return protocol, path.strip("/")


def check_location(location: str, *, needs_claims: bool) -> tuple[str, str]:
    """Refuse, at construction, a location where this backend cannot work safely."""
    protocol, path = split_location(location)
    if protocol in KINDS:
        if KINDS[protocol] == "local" and fcntl is None and needs_claims:
            raise ConfigError(
                "a file task queue on a local directory needs flock(2), which this platform "
                "lacks, so two workers could claim the same task", field="base_dir",
                value=location, expected="a POSIX system, or an s3:// location")
        if KINDS[protocol] in ("s3", "azure", "gcs") and not path:
            raise ConfigError(f"a {protocol}:// location needs a bucket or container",
                              field="base_dir", value=location,
                              expected=f"{protocol}://bucket or {protocol}://bucket/prefix")
        return protocol, path
    if protocol in UNCONDITIONAL and not needs_claims:
        return protocol, path
    why = UNCONDITIONAL.get(protocol, f"{protocol}:// offers no atomic create or "
                                      "compare-and-swap")
    raise ConfigError(
        f"the file task queue cannot claim tasks atomically on {protocol}:// ({why}): two "
        "workers could run the same task", field="base_dir", value=location,
        expected="a local directory, memory://, s3://bucket/prefix, gs://bucket/prefix or "
                 "abfs://container/prefix")


def check_key(key: str) -> str:
    """Every key is checked before use: no empty, ``.`` or ``..`` part, no escape of the root."""
    if _KEY.fullmatch(key) is None or any(part in (".", "..") for part in key.split("/")):
        raise ValueError(f"unsafe storage key {key!r}")
    return key


class Store(abc.ABC):
    """One project's folder on some store; see the module docstring."""

    #: True when calls do I/O and must run off the event loop.
    blocking = True
    #: The folder on the local disk, for inotify (None elsewhere).
    local_root: str | None = None
    #: How many batch slices to write at once (object stores: each write is a round trip).
    parallel = 1
    #: Object stores: whether :meth:`probe` checks that conditional writes are honoured, and
    #: what they are called there.
    check_conditions = False
    conditions = ""
    #: Where the store is, for messages.
    url = ""

    @abc.abstractmethod
    def read(self, key: str) -> tuple[bytes, Any] | None:
        """The stored bytes and a version token for :meth:`swap`, or None."""

    @abc.abstractmethod
    def create(self, key: str, data: bytes = b"") -> bool:
        """Write ``data`` if ``key`` does not exist; False if it does."""

    @abc.abstractmethod
    def swap(self, key: str, data: bytes, token: Any) -> bool:
        """Replace ``key`` if it is still the version ``token``; False otherwise. On stores
        without native compare-and-swap, only atomic inside :meth:`locked` of its record."""

    @abc.abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Write ``data`` whether or not ``key`` exists."""

    @abc.abstractmethod
    def delete(self, key: str) -> bool:
        """Remove ``key``; True if it existed."""

    def create_all(self, items: Sequence[tuple[str, bytes]]) -> list[bool]:
        """:meth:`create` of each ``(key, data)``; whether each was created."""
        return [self.create(key, data) for key, data in items]

    def create_many(self, keys: Collection[str]) -> None:
        """Create empty index entries (those that exist are left alone)."""
        for key in keys:
            self.create(key)

    def discard_many(self, keys: Collection[str]) -> None:
        """Delete index entries, present or not."""
        for key in keys:
            self.delete(key)

    @abc.abstractmethod
    def names(self, folder: str) -> list[str]:
        """Sorted names directly under ``folder`` (files and folders); [] if it is missing."""

    def count(self, folder: str) -> int:
        """How many names :meth:`names` would give."""
        return len(self.names(folder))

    def scan(self, folder: str) -> Iterator[str]:
        """The names of :meth:`names`, read lazily from the head, at a cost that does not grow
        with the folder's size where the store allows it (claims read only the head of the
        index folders)."""
        return iter(self.names(folder))

    def locked(self, name: str) -> contextlib.AbstractContextManager[None]:
        """A section no other writer of record ``name`` enters (where the store needs one)."""
        return contextlib.nullcontext()

    @abc.abstractmethod
    def remove_all(self) -> None:
        """Delete everything under the root (tests clean up with it)."""

    def close(self) -> None:
        """Release what the store holds (local directories: lock files, inotify)."""
        return None

    def probe(self) -> None:
        """Refuse, when a task queue connects, a store that accepts conditional writes but
        ignores them (some S3-compatible servers do): one object created twice, the second
        create must be refused. Only object stores need the check."""
        if not self.check_conditions:
            return
        key = f"probe/{uuid.uuid4().hex}"
        try:
            first, second = self.create(key, b"1"), self.create(key, b"2")
        finally:
            with contextlib.suppress(Exception):
                self.delete(key)
        if not (first and not second):
            raise ConfigError(
                f"{self.url} ignores exclusive creates ({self.conditions}), so the file task "
                "queue cannot claim tasks atomically there", field="base_dir", value=self.url,
                expected=f"a store that honours {self.conditions}")


class LocalStore(Store):
    """A directory on this machine's disk; safe between the processes of this machine."""

    def __init__(self, root: str) -> None:
        self.root = self.local_root = os.path.abspath(root)
        existing = self.root
        while not os.path.exists(existing):
            existing = os.path.dirname(existing)
        if not os.path.isdir(existing):
            raise ConfigError(f"{existing} is a file: the file backend keeps its tasks in a "
                              "directory", field="base_dir", value=existing,
                              expected="a directory, or a path where one can be created")
        self._threads = [threading.Lock() for _ in range(LOCK_STRIPES)]
        self._fds: dict[int, int] = {}
        self._pid = os.getpid()
        self._fd_lock = threading.Lock()
        self._listings: WatchedListings | None = None
        self._watching = True  # until inotify turns out to be missing

    def _path(self, key: str) -> str:
        return os.path.join(self.root, *check_key(key).split("/"))

    def read(self, key: str) -> tuple[bytes, Any] | None:
        try:
            with open(self._path(key), "rb") as f:
                data = f.read()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return data, data

    def _temp(self, path: str, data: bytes) -> str:
        folder = os.path.dirname(path)
        temp = os.path.join(folder, f".tmp-{uuid.uuid4().hex}")
        try:
            f = open(temp, "wb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            os.makedirs(folder, exist_ok=True)
            f = open(temp, "wb")  # noqa: SIM115
        with f:
            f.write(data)
        return temp

    def create(self, key: str, data: bytes = b"") -> bool:
        path = self._path(key)
        if not data:  # an index entry: an empty file, created exclusively
            try:
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            except FileExistsError:
                return False
            except FileNotFoundError:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                return self.create(key)
            return True
        temp = self._temp(path, data)
        try:
            os.link(temp, path)  # fails if the name exists: an exclusive create of whole data
        except FileExistsError:
            return False
        finally:
            os.unlink(temp)
        return True

    def swap(self, key: str, data: bytes, token: Any) -> bool:
        current = self.read(key)
        if current is None or current[1] != token:
            return False
        self.put(key, data)
        return True

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        os.replace(self._temp(path, data), path)

    def delete(self, key: str) -> bool:
        try:
            os.unlink(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return False
        return True

    def names(self, folder: str) -> list[str]:
        try:
            found = os.listdir(self._path(folder))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(n for n in found if not n.startswith("."))

    def count(self, folder: str) -> int:
        """Without sorting (counts of finished tasks list folders that grow with history)."""
        try:
            return sum(1 for name in os.listdir(self._path(folder)) if not name.startswith("."))
        except (FileNotFoundError, NotADirectoryError):
            return 0

    def scan(self, folder: str) -> Iterator[str]:
        """From a listing kept fresh by inotify (see :mod:`._listings`); where the platform
        has none, a new listing each time."""
        with self._fd_lock:
            self._forked()
            if self._listings is None and self._watching:
                self._listings = WatchedListings.open()
                self._watching = self._listings is not None
            listings = self._listings
        names = None if listings is None else listings.scan(self._path(folder))
        return iter(self.names(folder)) if names is None else names

    def _forked(self) -> None:
        """In a forked child, forget the parent's lock files and inotify instance (the
        parent's locks are not this process's; the caller holds ``_fd_lock``)."""
        if os.getpid() != self._pid:
            self._fds, self._listings, self._pid = {}, None, os.getpid()

    def remove_folder(self, folder: str) -> None:
        """Remove ``folder`` if it is empty (so finished history leaves no empty folders)."""
        with contextlib.suppress(OSError):
            os.rmdir(self._path(folder))

    def _lock_fd(self, stripe: int) -> int:
        with self._fd_lock:
            self._forked()
            fd = self._fds.get(stripe)
            if fd is None:
                folder = os.path.join(self.root, ".locks")
                os.makedirs(folder, exist_ok=True)
                fd = self._fds[stripe] = os.open(os.path.join(folder, f"{stripe:02d}"),
                                                 os.O_CREAT | os.O_RDWR, 0o644)
            return fd

    @contextlib.contextmanager
    def locked(self, name: str) -> Iterator[None]:
        stripe = zlib.crc32(name.encode()) % LOCK_STRIPES
        with self._threads[stripe]:  # flock excludes processes; this, the threads of this one
            fd = self._lock_fd(stripe)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def remove_all(self) -> None:
        import shutil

        shutil.rmtree(self.root, ignore_errors=True)

    def close(self) -> None:
        with self._fd_lock:
            fds, self._fds = self._fds, {}
            listings, self._listings = self._listings, None
            if os.getpid() == self._pid:
                for fd in fds.values():
                    os.close(fd)
                if listings is not None:
                    listings.close()


class MemoryStore(Store):
    """fsspec's ``memory://`` filesystem: shared by the components of this process only.

    Listings come from a process-wide index of every folder's children kept by these writes
    (fsspec's own listing scans every file of the filesystem), so files written there other
    than through this store are not listed."""

    blocking = False
    _lock = threading.RLock()  # one for the whole process, as the filesystem is
    _index = FolderIndex()

    def __init__(self, root: str) -> None:
        import fsspec

        self.fs = fsspec.filesystem("memory")
        self.root = "/" + root.strip("/")

    def _path(self, key: str) -> str:
        return f"{self.root}/{check_key(key)}"

    def read(self, key: str) -> tuple[bytes, Any] | None:
        try:
            data = self.fs.cat_file(self._path(key))
        except (FileNotFoundError, KeyError, IsADirectoryError):
            return None
        return data, data

    def _write(self, path: str, data: bytes) -> None:
        self.fs.pipe_file(path, data)
        self._index.added(path)

    def create(self, key: str, data: bytes = b"") -> bool:
        path = self._path(key)
        with self._lock:
            if path in self.fs.store:
                return False
            self._write(path, data)
            return True

    def swap(self, key: str, data: bytes, token: Any) -> bool:
        with self._lock:
            current = self.read(key)
            if current is None or current[1] != token:
                return False
            self._write(self._path(key), data)
            return True

    def put(self, key: str, data: bytes) -> None:
        with self._lock:
            self._write(self._path(key), data)

    def delete(self, key: str) -> bool:
        path = self._path(key)
        with self._lock:
            self._index.removed(path)
            return self.fs.store.pop(path, None) is not None

    def names(self, folder: str) -> list[str]:
        with self._lock:
            return list(self._index.children(self._path(folder)) or ())

    def scan(self, folder: str) -> Iterator[str]:
        path = self._path(folder)
        return walk_from_head(self._lock, lambda: self._index.children(path))

    @contextlib.contextmanager
    def locked(self, name: str) -> Iterator[None]:
        with self._lock:
            yield

    def remove_all(self) -> None:
        with self._lock:
            for path in [p for p in self.fs.store if p.startswith(self.root + "/")]:
                del self.fs.store[path]
                self._index.removed(path)
            for path in [p for p in self.fs.pseudo_dirs if p.startswith(self.root)]:
                self.fs.pseudo_dirs.remove(path)


def open_store(location: str, storage_options: dict[str, Any] | None) -> Store:
    """The store at ``location`` (already checked by :func:`check_location`)."""
    protocol, path = split_location(location)
    kind = KINDS.get(protocol)
    if kind == "local":
        return LocalStore(path)
    if kind == "memory":
        return MemoryStore(path)
    if kind == "s3":
        from ._s3 import S3Store

        return S3Store(path, dict(storage_options or {}))
    if kind == "azure":
        from ._azure import AzureStore

        return AzureStore(protocol, path, dict(storage_options or {}))
    if kind == "gcs":
        from ._gcs import GCSStore

        return GCSStore(protocol, path, dict(storage_options or {}))
    return FsspecStore(protocol, path, dict(storage_options or {}))


class FsspecStore(Store):
    """Any other fsspec filesystem, for results and events only (plain writes, no claims)."""

    def __init__(self, protocol: str, path: str, storage_options: dict[str, Any]) -> None:
        import fsspec

        try:
            self.fs = fsspec.filesystem(protocol, **storage_options)
        except ImportError as exc:
            raise ConfigError(f"{protocol}:// needs its fsspec driver", field="base_dir",
                              value=f"{protocol}://{path}",
                              expected=f"the fsspec driver package of {protocol}://") from exc
        self.root = path

    def _path(self, key: str) -> str:
        return f"{self.root}/{check_key(key)}"

    def read(self, key: str) -> tuple[bytes, Any] | None:
        try:
            data = self.fs.cat_file(self._path(key))
        except FileNotFoundError:
            return None
        return data, data

    def create(self, key: str, data: bytes = b"") -> bool:
        if self.fs.exists(self._path(key)):
            return False
        self.fs.pipe_file(self._path(key), data)
        return True

    def swap(self, key: str, data: bytes, token: Any) -> bool:  # results and events never swap
        raise NotImplementedError("no compare-and-swap on this store")

    def put(self, key: str, data: bytes) -> None:
        self.fs.pipe_file(self._path(key), data)

    def delete(self, key: str) -> bool:
        try:
            self.fs.rm_file(self._path(key))
        except FileNotFoundError:
            return False
        return True

    def names(self, folder: str) -> list[str]:
        try:
            found = self.fs.ls(self._path(folder), detail=False)
        except FileNotFoundError:
            return []
        return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in found)

    def remove_all(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self.root, recursive=True)
