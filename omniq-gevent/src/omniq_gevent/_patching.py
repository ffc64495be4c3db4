"""Monkey-patching: what the gevent worker needs patched for blocking I/O to yield.

Only the modules task code blocks in are patched: ``socket`` (and DNS), ``ssl``, ``time`` and
``select`` (``select.select`` and ``select.poll``, not ``epoll``). ``threading`` is left alone
on purpose: the worker's asyncio loop, its drivers' helper threads (aiosqlite) and the hub of
the greenlets each keep a real OS thread. See docs/user_guide/workers/gevent.qmd, "Monkey-patching".
"""

from __future__ import annotations

import logging

from gevent import monkey

logger = logging.getLogger("omniq.worker")

#: The modules :func:`patch` patches, as ``gevent.monkey`` names them.
PATCHED_MODULES = ("socket", "ssl", "time", "select")


def is_patched() -> bool:
    """Whether blocking socket I/O and ``time.sleep`` yield to other greenlets."""
    return all(monkey.is_module_patched(name) for name in ("socket", "time"))


def patch() -> None:
    """Patch ``socket``, DNS, ``ssl``, ``time`` and ``select`` for gevent; idempotent.

    Call it first in the program, before anything imports ``socket`` or ``ssl`` (``python -m
    omniq_gevent worker ...`` does). Called later (the worker does when it starts), a library
    that already bound an original (``from socket import socket``, ``from time import sleep``)
    keeps it and blocks its greenlet's whole thread.
    """
    if all(monkey.is_module_patched(name) for name in PATCHED_MODULES):
        return
    # DNS goes with the socket module (gevent's resolver, which uses real threads). select is
    # not aggressive: epoll stays, so asyncio loops keep their native selector.
    monkey.patch_socket(dns=True)
    monkey.patch_ssl()
    monkey.patch_time()
    monkey.patch_select(aggressive=False)
    logger.info("gevent monkey-patched %s (threading left unpatched)",
                ", ".join(PATCHED_MODULES))
