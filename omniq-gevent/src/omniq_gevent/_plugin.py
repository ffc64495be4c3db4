"""Entry point of omniq-gevent: registers the ``gevent`` worker type. Imports nothing but omniq
(gevent itself is imported only when the worker class is asked for)."""

from __future__ import annotations

from omniq.plugins import Register, hookimpl


@hookimpl
def omniq_register_workers(register: Register) -> None:
    register("gevent", "omniq_gevent.worker:AsyncGeventWorker",
             exports=["GeventWorker", "AsyncGeventWorker"])
