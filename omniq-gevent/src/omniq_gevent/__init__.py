"""omniq-gevent: the ``gevent`` worker type (see docs/user_guide/workers/gevent.qmd).

``patch()`` monkey-patches what the worker needs; ``python -m omniq_gevent worker ...`` is the
``omniq`` command with that patching done first. Importing this package imports only gevent's
``monkey`` module; the worker classes (and omniq) load when first used, so ``patch()`` can come
before anything imports ``socket`` or ``ssl``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._patching import is_patched, patch

if TYPE_CHECKING:
    from .worker import AsyncGeventWorker, GeventWorker, GreenletTaskContext

__all__ = ["AsyncGeventWorker", "GeventWorker", "GreenletTaskContext", "is_patched", "patch"]


def __getattr__(name: str) -> Any:
    if name in ("AsyncGeventWorker", "GeventWorker", "GreenletTaskContext"):
        from . import worker

        return getattr(worker, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
