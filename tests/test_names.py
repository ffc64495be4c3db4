"""One vocabulary: canonical names, the other spellings that still import, and the layer a
backend may not override."""

from __future__ import annotations

import pickle
from typing import Any

import omniq
import pytest
from omniq.exceptions import TaskCancelledError
from omniq.queue.memory import AsyncMemoryTaskQueue


@pytest.mark.parametrize(("module", "spelling", "canonical"), [
    ("omniq.storage", "SQLiteResultStorage", "SQLiteResultStore"),
    ("omniq.storage", "PostgresEventStorage", "PostgresEventStore"),
    ("omniq.storage", "AsyncResultStorage", "AsyncResultStore"),
    ("omniq.storage", "MemoryEventStorage", "MemoryEventStore"),
    ("omniq.queue", "PostgreSQLTaskQueue", "PostgresTaskQueue"),
    ("omniq.queue", "SQLiteQueue", "SQLiteTaskQueue"),
    ("omniq.queue", "AsyncRedisQueue", "AsyncRedisTaskQueue"),
    ("omniq.models", "SQLiteResultStorageConfig", "SQLiteResultStoreConfig"),
    ("omniq.workers", "ThreadWorker", "ThreadPoolWorker"),
    ("omniq.workers", "TaskCancelled", "TaskCancelledError"),
    ("omniq", "TaskCancelled", "TaskCancelledError"),
])
def test_other_spellings_import_as_the_canonical_class(module: str, spelling: str,
                                                        canonical: str) -> None:
    import importlib

    mod = importlib.import_module(module)
    assert getattr(mod, spelling) is getattr(mod, canonical)


def test_registered_classes_say_store_not_storage() -> None:
    from omniq.plugins._registry import get_registry

    names = [name for name in get_registry().exports]
    assert names and not [n for n in names if "Storage" in n]


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        omniq.NoSuchThing  # noqa: B018


def test_a_backend_that_overrides_the_lifecycle_is_refused() -> None:
    with pytest.raises(TypeError, match=r"overrides finish of AsyncTaskQueue.*omniq.contract"):
        class Sneaky(AsyncMemoryTaskQueue):
            async def finish(self, updates: Any, results: Any = None) -> list[bool]:
                return []


def test_a_backend_may_override_the_storage_interface() -> None:
    class Fine(AsyncMemoryTaskQueue):
        async def finish_tasks(self, updates: Any, results: Any = None) -> Any:
            return await super().finish_tasks(updates, results)

    assert Fine.finish_tasks is not AsyncMemoryTaskQueue.finish_tasks


def test_task_cancelled_error_crosses_process_boundaries() -> None:
    error = pickle.loads(pickle.dumps(TaskCancelledError("t1", "cancelled", "by request")))
    assert (error.task_id, error.status, error.reason) == ("t1", "cancelled", "by request")
    assert str(error) == "task t1 is cancelled: by request"
