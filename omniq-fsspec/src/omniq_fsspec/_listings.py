"""Sorted listings of folders held in memory, so a claim reads the head of a queue without
listing a folder that grows with the backlog.

* :class:`WatchedListings` (a local directory): each folder is listed once, then kept up to
  date from the inotify events (create, delete, move) that every process's writes raise. The
  events are read before each use, so a listing is as fresh as a new ``listdir`` would be.
  Events replayed in order over a listing taken after the watch started give the folder's
  state, whatever happened in between. If the kernel dropped events (its queue overflowed) or
  the folder was removed, the listing is dropped and read afresh on next use.
* :class:`FolderIndex` (``memory://``): the children of every folder, updated by the store's
  own writes (the memory filesystem's listing scans every file it holds).

Either way, a claim walks a sorted set from its head: O(log n) per name read.
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
import weakref
from collections.abc import Callable, Iterator

from sortedcontainers import SortedSet

from ._wakeups import inotify_library

IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
_ADDED = IN_CREATE | IN_MOVED_TO
_REMOVED = IN_DELETE | IN_MOVED_FROM
_MASK = _ADDED | _REMOVED | IN_DELETE_SELF | IN_MOVE_SELF
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, length of the name that follows


def walk_from_head(lock: threading.Lock | threading.RLock,
                   current: Callable[[], SortedSet | None]) -> Iterator[str]:
    """The names of ``current()`` in order, one at a time under ``lock``: each step looks up
    the first name after the last one given, so writes in between are seen, never tripped on."""
    last: str | None = None
    while True:
        with lock:
            names = current()
            if not names:
                return
            index = 0 if last is None else names.bisect_right(last)
            if index >= len(names):
                return
            last = names[index]
        yield last


class WatchedListings:
    """Listings of some folders of one local directory, kept fresh by one inotify instance."""

    def __init__(self, fd: int, add_watch: Callable[[int, bytes, int], int]) -> None:
        self._fd = fd
        # Closed with close(), or when dropped unclosed: inotify instances are few per user.
        self._release = weakref.finalize(self, os.close, fd)
        self._add_watch = add_watch
        self._lock = threading.Lock()
        self._folders: dict[int, str] = {}  # watch descriptor -> folder path
        self._watches: dict[str, int] = {}
        self._listings: dict[str, SortedSet] = {}

    @classmethod
    def open(cls) -> WatchedListings | None:
        """None where the platform has no inotify or its instances are used up."""
        libc = inotify_library()
        if libc is None:
            return None
        fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        return None if fd < 0 else cls(fd, libc.inotify_add_watch)

    def scan(self, path: str) -> Iterator[str] | None:
        """The names in folder ``path`` in sorted order (hidden ones left out); None if the
        folder cannot be watched (the caller lists it instead)."""
        with self._lock:
            self._read_events()
            if self._listing(path) is None:
                return None
        return walk_from_head(self._lock, lambda: self._listings.get(path))

    def _listing(self, path: str) -> SortedSet | None:
        listing = self._listings.get(path)
        if listing is not None:
            return listing
        if path not in self._watches:
            os.makedirs(path, exist_ok=True)
            wd = self._add_watch(self._fd, os.fsencode(path), _MASK)
            if wd < 0:
                return None
            self._folders[wd], self._watches[path] = path, wd
        # Listed after the watch started: every change from now on comes as an event.
        listing = self._listings[path] = SortedSet(
            name for name in os.listdir(path) if not name.startswith("."))
        return listing

    def _read_events(self) -> None:
        while True:
            try:
                data = os.read(self._fd, 1 << 16)
            except BlockingIOError:
                return
            offset = 0
            while offset < len(data):
                wd, mask, _, size = _EVENT.unpack_from(data, offset)
                raw = data[offset + _EVENT.size:offset + _EVENT.size + size].rstrip(b"\0")
                offset += _EVENT.size + size
                self._apply(wd, mask, os.fsdecode(raw))

    def _apply(self, wd: int, mask: int, name: str) -> None:
        if mask & IN_Q_OVERFLOW:  # events were lost: every listing is read afresh
            self._listings.clear()
            return
        path = self._folders.get(wd)
        if path is None:
            return
        if mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF):  # the folder itself went away
            self._listings.pop(path, None)
            if mask & IN_IGNORED:
                del self._folders[wd], self._watches[path]
            return
        listing = self._listings.get(path)
        if listing is None or name.startswith("."):
            return
        if mask & _ADDED:
            listing.add(name)
        elif mask & _REMOVED:
            listing.discard(name)

    def close(self) -> None:
        with self._lock, contextlib.suppress(OSError):
            self._release()


class FolderIndex:
    """The children (files and folders) of every folder of a flat key-value store, sorted;
    the caller serialises writes."""

    def __init__(self) -> None:
        self._children: dict[str, SortedSet] = {}

    def added(self, path: str) -> None:
        while True:
            parent, _, name = path.rpartition("/")
            children = self._children.get(parent)
            if children is None:
                children = self._children[parent] = SortedSet()
            elif name in children:
                return  # and so are its parents
            children.add(name)
            if not parent:
                return
            path = parent

    def removed(self, path: str) -> None:
        """``path`` is gone, and with it every folder it leaves empty."""
        while path:
            parent, _, name = path.rpartition("/")
            children = self._children.get(parent)
            if children is None:
                return
            children.discard(name)
            if children:
                return
            del self._children[parent]
            path = parent

    def children(self, folder: str) -> SortedSet | None:
        return self._children.get(folder)
