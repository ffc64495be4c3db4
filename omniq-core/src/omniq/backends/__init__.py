"""Alias of :mod:`omniq.backend`, plus one submodule per installed type name.

Seed 004 writes ``from omniq.backends.sqlite import SQLiteBackend``: ``omniq.backends.<type>``
is importable for every backend type an installed plugin registers, a third party's included.
It is made on import from the plugin registry and holds the classes of that type (its task
queue, result and event stores and bundle, sync and async, and their config structs).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types

from .. import plugins
from .._facade import facade_getattr
from ..backend import AsyncBackend
from ..exceptions import PluginNotFoundError
from ..plugins._hints import install_hint

__all__ = ["AsyncBackend"]

__getattr__ = facade_getattr(__name__, globals())

_STORE_KINDS = ("backend", "task_queue", "result_store", "event_store")


class _TypeModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``omniq.backends.<type>`` for any registered type name (after the files here)."""

    def find_spec(self, fullname: str, path: object = None, target: object = None
                  ) -> importlib.machinery.ModuleSpec | None:
        prefix = __name__ + "."
        name = fullname.removeprefix(prefix)
        if not fullname.startswith(prefix) or "." in name:
            return None
        if not _registrations(name):
            hint = install_hint("backend", name)
            if hint:  # one of ours, not installed: say which distribution installs it
                raise PluginNotFoundError(f"no module named {fullname!r}: {hint}")
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def exec_module(self, module: types.ModuleType) -> None:
        name = module.__name__.removeprefix(__name__ + ".")
        exported: list[str] = []
        for t in _registrations(name):
            for export in (t.target.rpartition(":")[2].rpartition(".")[2], *t.exports):
                setattr(module, export, plugins.find_export(export))
                exported.append(export)
        module.__doc__ = f"The {name!r} classes of the installed plugins."
        module.__all__ = sorted(set(exported))  # type: ignore[attr-defined]


def _registrations(name: str) -> list[plugins.PluginType]:
    found = []
    for kind in _STORE_KINDS:
        try:
            found.append(plugins.lookup(kind, name))
        except LookupError:
            continue
    return found


if not any(isinstance(f, _TypeModuleFinder) for f in sys.meta_path):
    sys.meta_path.append(_TypeModuleFinder())
