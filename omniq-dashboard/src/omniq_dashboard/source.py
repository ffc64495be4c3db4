"""What the dashboard reads and changes: an OmniQ client, through its public API only, so
every backend works the same. A blocking ``OmniQ`` is used through its ``*_async`` methods,
which run on its own event loop (its connections belong there), never blocking the server's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from omniq import AsyncOmniQ, OmniQ
from omniq.exceptions import ConfigError
from omniq.models import OmniQConfig, TaskStatus


def build_client(spec: Any) -> tuple[Any, bool]:
    """The client ``spec`` names, and whether the dashboard made it (and so closes it).

    ``spec``: an ``AsyncOmniQ`` or ``OmniQ``; an ``OmniQConfig`` or its dict form; a path to a
    YAML config file; or a task queue URL (``redis://...``, ``sqlite:///tasks.db``).
    """
    if isinstance(spec, AsyncOmniQ | OmniQ):
        return spec, False
    if isinstance(spec, OmniQConfig):
        return AsyncOmniQ.from_config(spec), True
    if isinstance(spec, Mapping):
        return AsyncOmniQ.from_config_dict(spec), True
    if isinstance(spec, Path) or (isinstance(spec, str) and spec.endswith((".yaml", ".yml"))):
        return AsyncOmniQ.from_config_file(spec), True
    if isinstance(spec, str) and "://" in spec:
        return AsyncOmniQ(task_queue=spec), True
    raise ConfigError("the dashboard needs an OmniQ client or the settings to build one",
                      field="oq_or_settings", value=type(spec).__name__,
                      expected="an AsyncOmniQ or OmniQ, an OmniQConfig or dict, a YAML file "
                               "path or a task queue URL such as redis://127.0.0.1:6379/0")


class Source:
    """The reads and actions of the dashboard's pages, on one client.

    Args:
        client: An ``AsyncOmniQ`` or a blocking ``OmniQ``.
        queues: Queue names to show besides the client's own and the workers'.
    """

    #: :func:`omniq.observe.metrics.exposition` looks for an observer here; none.
    observer = None

    def __init__(self, client: Any, queues: Sequence[str] = ()) -> None:
        self.client = client
        self._blocking = isinstance(client, OmniQ)
        self.extra_queues = list(queues)
        self.project_name: str = client.project_name
        self.backend = type(client.task_queue).__name__.removeprefix("Async")
        self.has_events = client.event_store is not None

    async def _call(self, target: Any, method_name: str, /, *args: Any, **kwargs: Any) -> Any:
        method = getattr(target, f"{method_name}_async" if self._blocking else method_name)
        return await method(*args, **kwargs)

    async def connect(self) -> None:
        await self._call(self.client, "connect")

    async def close(self) -> None:
        await self._call(self.client, "close")

    # -- reads ---------------------------------------------------------------------------------
    async def task_counts(self) -> dict[str, dict[TaskStatus, int]]:
        return dict(await self._call(self.client, "task_counts"))

    async def find_tasks(self, **filters: Any) -> Any:
        """A :class:`~omniq.models.TaskPage`, newest first (``find_tasks``' filters)."""
        return await self._call(self.client, "find_tasks", newest_first=True, **filters)

    async def queue_stats(self) -> list[Any]:
        return list(await self._call(self.client, "queue_stats"))

    async def get_task(self, task_id: str) -> Any:
        return await self._call(self.client, "get_task", task_id)

    async def events(self, **filters: Any) -> list[Any]:
        return list(await self._call(self.client, "get_events", **filters))

    async def schedules(self) -> list[Any]:
        return list(await self._call(self.client, "list_schedules"))

    async def workers(self) -> list[Any]:
        return list(await self._call(self.client, "list_workers"))

    async def queues(self) -> list[str]:
        """The client's queues, the ones given and those any registered worker serves, in
        that order, ``default`` last (without counting tasks: the overview shows every queue
        that holds some)."""
        names = dict.fromkeys([*self.client.task_queue.queues, *self.extra_queues])
        for worker in await self.workers():
            names.update(dict.fromkeys(worker.queues))
        return [q for q in names if q != "default"] + ["default"]

    # -- actions -------------------------------------------------------------------------------
    async def pause_schedule(self, schedule_id: str) -> bool:
        return bool(await self._call(self.client, "pause_schedule", schedule_id))

    async def resume_schedule(self, schedule_id: str) -> bool:
        return bool(await self._call(self.client, "resume_schedule", schedule_id))

    async def requeue(self, task_id: str) -> bool:
        return bool(await self._call(self.client, "requeue", task_id))
