"""Plugin packages whose names import on first use.

A plugin's entry point is a module inside its package, so loading the registry runs the
package's ``__init__`` of every installed plugin. If that ``__init__`` imported the plugin's
classes, a program on one backend would import every installed one (their drivers too: a few
hundred milliseconds at its first ``OmniQ``, for nothing). :func:`lazy_exports` lets the
``__init__`` list its public names and import each from its module when it is first used.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, Sequence[str]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) for the package ``package``: ``exports`` maps each
    submodule (relative, ``".queue"``) to the public names it defines.

    Usage, in a plugin's ``__init__.py`` (with the same names imported under
    ``typing.TYPE_CHECKING`` and listed in ``__all__``, for type checkers)::

        __getattr__ = lazy_exports(__name__, {".queue": ["AsyncMyTaskQueue", "MyTaskQueue"]})
    """
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)  # found directly from now on
        return value

    return __getattr__


__all__ = ["lazy_exports"]
