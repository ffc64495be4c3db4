"""Module ``__getattr__`` for the seed-compatible facade modules.

``omniq.queue``, ``omniq.storage``, ``omniq.workers``, ``omniq.backend``, ``omniq.backends`` and
``omniq.models`` keep the seeds' imports working (``from omniq.queue import SQLiteTaskQueue``)
without the core importing any plugin: an unknown class name is looked up among the exports of
the installed plugins.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from omniq.exceptions import PluginNotFoundError

# CamelCase with at least one lower-case letter: dunders, private names, module-style
# lower-case names and CONSTANTS are never class exports, so they get a plain AttributeError
# without loading the plugins (hasattr, copy, pickle, doctest and IDEs probe such names).
_CLASS_NAME_RE = re.compile(r"[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*\Z")


def facade_getattr(module_name: str, namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A PEP 562 ``__getattr__`` for the module ``module_name`` (``namespace``: its globals,
    where each resolved class is cached) that returns the class an installed plugin exports.

    A class of one of OmniQ's own plugins that is not installed (``SQLiteTaskQueue``) raises
    PluginNotFoundError with the ``pip install`` line, so ``from omniq.queue import
    SQLiteTaskQueue`` shows the hint rather than a bare "cannot import name"; any other miss is
    an AttributeError.
    """

    # Any, not object: a type checker cannot know what the registry finds at run time, and
    # ``object`` made every use of an imported class an error ("object" not callable).
    def __getattr__(name: str) -> Any:
        if not _CLASS_NAME_RE.match(name):
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        # Imported here: the facades are imported by the core itself, before the registry.
        from omniq._aliases import canonical
        from omniq.plugins import find_export
        from omniq.plugins._hints import export_hint

        other = canonical(name)
        if other is not None and other in namespace:  # another spelling of one of ours
            return namespace[other]

        try:
            value = find_export(name)
        except PluginNotFoundError as exc:
            if exc.__cause__ is not None or export_hint(name) is not None:
                raise  # installed but broken, or one of ours that is not installed
            raise AttributeError(
                f"module {module_name!r} has no attribute {name!r} "
                "(and no installed OmniQ plugin exports it)",
                name=name,
            ) from None
        namespace[name] = value
        return value

    __getattr__.__qualname__ = f"{module_name}.__getattr__"
    return __getattr__
