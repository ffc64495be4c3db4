"""Other spellings of public names, all in one place.

``docs/user_guide/architecture.qmd`` lists them.

The spellings of the seed documents and of earlier releases stay importable from the facade
modules: a name they do not define is turned into its canonical spelling here and looked up
again, so ``from omniq.storage import SQLiteResultStorage`` gives ``SQLiteResultStore``, for
any plugin's classes, a third party's included.
"""

from __future__ import annotations

import re

#: Names that are not a spelling rule away from their canonical one.
NAMES: dict[str, str] = {
    "AsyncResultStorage": "AsyncResultStore",
    "AsyncEventStorage": "AsyncEventStore",
    "BaseTaskQueue": "AsyncTaskQueue",
    "BaseResultStorage": "AsyncResultStore",
    "BaseEventStorage": "AsyncEventStore",
    "ThreadWorker": "ThreadPoolWorker",
    "ProcessWorker": "ProcessPoolWorker",
    "TaskCancelled": "TaskCancelledError",
}

#: Spelling rules, applied in order to any class name.
RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(Async)?PostgreSQL(?=[A-Z])"), r"\1Postgres"),  # PostgreSQLTaskQueue
    (re.compile(r"(Result|Event)Storage(Config)?$"), r"\1Store\2"),  # SQLiteResultStorage
    (re.compile(r"^(Async)?(\w+?)(?<!Task)Queue$"), r"\1\2TaskQueue"),  # SQLiteQueue
)


def canonical(name: str) -> str | None:
    """The canonical spelling of ``name``, or None if it has no other."""
    new = NAMES.get(name, name)
    for pattern, replacement in RULES:
        new = pattern.sub(replacement, new)
    return None if new == name else new
