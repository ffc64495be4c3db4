"""The hooks an OmniQ plugin implements (docs/user_guide/writing_a_plugin.qmd shows a whole plugin).

Every hook only registers: it receives a ``register`` callable and hands over type names and
``"module:Class"`` strings. No hook imports a driver, opens a connection or does any other I/O,
so loading every installed plugin stays cheap and cannot fail because a server is down.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import pluggy

#: The pluggy project name, which is also the entry-point group plugins declare.
PROJECT_NAME = "omniq"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

# The component kinds, in the order `available()` lists them, and the hook that registers each.
KINDS: tuple[str, ...] = ("task_queue", "result_store", "event_store", "worker", "backend")
HOOK_OF_KIND: dict[str, str] = {kind: f"omniq_register_{kind}s" for kind in KINDS}


class Register(Protocol):
    """The callable every registration hook receives."""

    def __call__(self, name: str, target: str, *, aliases: Sequence[str] = (),
                 schemes: Sequence[str] = (), exports: Sequence[str] = ()) -> None:
        """Register one type.

        Args:
            name: The type name users write (``"redis"``), matched case-insensitively.
            target: ``"module:AsyncClass"``; the module is imported on first use only.
            aliases: Other type names for the same class (``"postgresql"``).
            schemes: URL schemes that select this type (``"redis"``, ``"rediss"``).
            exports: Further public class names defined in the target's module (the sync twin
                ``"SQLiteTaskQueue"``, config structs ``"SQLiteTaskQueueConfig"``), which
                ``omniq.queue``, ``omniq.storage``, ... re-export on demand.
        """


class OmniQHookSpecs:
    """Hook specifications; each hook is called once per plugin when the registry is built."""

    @hookspec
    def omniq_register_task_queues(self, register: Register) -> None:
        """Register task queue types (tasks, schedules, dependency state)."""

    @hookspec
    def omniq_register_result_stores(self, register: Register) -> None:
        """Register result store types."""

    @hookspec
    def omniq_register_event_stores(self, register: Register) -> None:
        """Register event store types."""

    @hookspec
    def omniq_register_workers(self, register: Register) -> None:
        """Register worker types (execution strategies)."""

    @hookspec
    def omniq_register_backends(self, register: Register) -> None:
        """Register backend bundles: one engine's queue, result and event stores together."""
