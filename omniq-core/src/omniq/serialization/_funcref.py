"""Functions as import references: ``"module:qualname"``.

A function a worker can import by module and qualified name travels as that string, which is
small, fast and independent of the Python version. Anything else (lambdas, closures, nested
functions, partials, bound methods, ``__main__`` functions) travels by value through dill; this
module only decides which, and resolves references back on the worker.

Both directions are cached: a reference is only cached for an object its module really exports,
so the caches hold module-level objects that live as long as their module anyway.
"""

from __future__ import annotations

import functools
import importlib
import sys
import threading
from collections.abc import Callable
from typing import Any

from omniq.exceptions import SerializationError

# Modules a worker cannot import by name: the script that enqueued the task is not the worker's.
_MAIN_MODULES = frozenset({"__main__", "__mp_main__"})
# How many references each cache keeps before it starts over; generous, only module-level
# functions are ever stored.
_CACHE_LIMIT = 4096

# Keyed by id() with the object kept alive beside its reference, so the id cannot be reused
# and equality overrides on callable objects cannot make two objects share a reference.
_dump_cache: dict[int, tuple[Any, str]] = {}
_load_cache: dict[str, Any] = {}
_import_lock = threading.Lock()


def func_name(func: Any) -> str:
    """A display name for a callable: ``"module:qualname"``.

    Lambdas show as ``"module:<lambda>"``; a ``functools.partial`` shows the function it wraps;
    a callable object shows its class.
    """
    while isinstance(func, functools.partial):
        func = func.func
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if not isinstance(qualname, str):
        cls = type(func)
        module, qualname = cls.__module__, cls.__qualname__
    if getattr(func, "__name__", None) == "<lambda>":
        qualname = "<lambda>"
    return f"{module or '?'}:{qualname}"


def reference_for(func: Any) -> str | None:
    """The ``"module:qualname"`` a worker can import to get ``func`` back, or None.

    None means the function must travel by value: it has no importable name, or its name does
    not lead back to this very object (a nested function, a bound method, a function replaced
    by a decorator of the same name), or it lives in ``__main__``.
    """
    cached = _dump_cache.get(id(func))
    if cached is not None and cached[0] is func:
        return cached[1]
    module_name = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if not isinstance(module_name, str) or not isinstance(qualname, str):
        return None
    if module_name in _MAIN_MODULES or "<" in qualname:  # <locals>, <lambda>
        return None
    # Only a module already imported here: dumping must never import anything.
    module = sys.modules.get(module_name)
    if module is None or _walk(module, qualname) is not func:
        return None
    ref = f"{module_name}:{qualname}"
    if len(_dump_cache) >= _CACHE_LIMIT:
        _dump_cache.clear()
    _dump_cache[id(func)] = (func, ref)
    return ref


def resolve(ref: str) -> Callable[..., Any]:
    """Import the callable a reference names. Call only on verified payloads.

    Raises:
        SerializationError: the module cannot be imported here, or does not define the name.
    """
    func = _load_cache.get(ref)
    if func is not None:
        return func  # type: ignore[no-any-return]
    module_name, sep, qualname = ref.partition(":")
    if not sep or not module_name or not qualname:
        raise SerializationError(f"malformed function reference {ref!r}")
    try:
        # Imports take the import lock anyway; ours keeps two threads from racing the cache.
        with _import_lock:
            module = importlib.import_module(module_name)
    except Exception as exc:
        raise SerializationError(
            f"cannot import module {module_name!r} for task function {ref!r} on this worker "
            f"({type(exc).__name__}: {exc}): make it importable where workers run (install "
            f"it, start `omniq worker` in the folder that holds it, or add that folder to "
            f"PYTHONPATH)"
        ) from exc
    func = _walk(module, qualname)
    if func is None or not callable(func):
        raise SerializationError(
            f"module {module_name!r} has no callable {qualname!r} (task function {ref!r}): "
            "is the worker running the same version of the code?"
        )
    if len(_load_cache) >= _CACHE_LIMIT:
        _load_cache.clear()
    _load_cache[ref] = func
    return func  # type: ignore[no-any-return]


def _walk(obj: Any, qualname: str) -> Any:
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj
