"""One LISTEN connection per engine, dispatching NOTIFY payloads to the components.

Idle workers (``wait_for_work``) and callers waiting for a result (``wait_blob``) block on
notifications instead of polling. The connection is opened on the first subscription. If it
drops (the server restarted), every subscriber is told at once (so its waiters look again
rather than trust notifications that may have been lost), and it is reopened in the
background with backoff, then every subscriber is told again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._engine import Engine

logger = logging.getLogger("omniq.postgres")

OnPayload = Callable[[str], None]
OnReset = Callable[[], None]


class Listener:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Any = None
        self._subs: dict[str, list[tuple[OnPayload, OnReset]]] = {}
        self._lock = asyncio.Lock()
        self._reconnecting: asyncio.Task[None] | None = None
        self._closed = False

    async def subscribe(self, channel: str, on_payload: OnPayload, on_reset: OnReset) -> None:
        """Call ``on_payload(payload)`` for each NOTIFY on ``channel``; ``on_reset()`` when
        notifications may have been missed. Raises if the server cannot be reached."""
        from ._engine import translating

        async with self._lock:
            with translating(self._engine.display):
                if self._conn is None:
                    await self._open()
                subs = self._subs.setdefault(channel, [])
                if not subs:
                    await self._conn.add_listener(channel, self._dispatch)
                subs.append((on_payload, on_reset))

    def unsubscribe(self, channel: str, on_payload: OnPayload) -> None:
        """Stop calling ``on_payload`` (the channel stays LISTENed until close: cheap)."""
        subs = self._subs.get(channel, [])
        subs[:] = [s for s in subs if s[0] != on_payload]

    async def _open(self) -> None:
        conn = await self._engine.new_connection()
        try:
            for channel, subs in self._subs.items():
                if subs:
                    await conn.add_listener(channel, self._dispatch)
        except BaseException:
            with contextlib.suppress(Exception):
                await self._engine.drop_connection(conn)
            raise
        conn.add_termination_listener(self._lost)
        self._conn = conn

    def _dispatch(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        for on_payload, _ in list(self._subs.get(channel, ())):
            try:
                on_payload(payload)
            except Exception:  # a subscriber's bug must not stop the others
                logger.exception("NOTIFY handler for %s failed", channel)

    def _reset_all(self) -> None:
        for subs in list(self._subs.values()):
            for _, on_reset in list(subs):
                on_reset()

    def _lost(self, conn: Any) -> None:
        if self._closed or conn is not self._conn:
            return
        logger.warning("LISTEN connection to %s lost; reconnecting", self._engine.display)
        self._conn = None
        self._reset_all()
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        delay = 0.05
        while not self._closed:
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            async with self._lock:
                if self._conn is not None or self._closed:
                    return
                try:
                    await self._open()
                except Exception as exc:
                    logger.debug("LISTEN reconnect failed: %s", exc)
                    delay = min(delay * 2, 2.0)
                    continue
            logger.warning("LISTEN connection to %s restored", self._engine.display)
            self._reset_all()
            return

    async def close(self) -> None:
        self._closed = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                with contextlib.suppress(Exception):  # already broken: nothing to release
                    conn.remove_termination_listener(self._lost)
                    for channel in self._subs:  # a pool's connection goes back without them
                        await conn.remove_listener(channel, self._dispatch)
                    await self._engine.drop_connection(conn)
        self._subs.clear()
