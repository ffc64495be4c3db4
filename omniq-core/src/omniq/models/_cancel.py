"""What ``cancel()`` did: a str enum that is also true or false, so ``if queue.cancel(id):``
keeps working while callers that care can tell the cases apart."""

from __future__ import annotations

import enum


class CancelOutcome(enum.StrEnum):
    """The answer of ``cancel(task_id)``.

    ``CANCELLED`` and ``REQUESTED`` are true, ``ALREADY_FINISHED`` is false (as ``cancel``
    returned True and False before it said which). What a worker does with a request depends
    on its type: an ``async`` worker cancels the coroutine at once, a ``process_pool`` worker
    kills the task's process, a ``thread_pool`` worker (and a sync function on an ``async``
    worker) sets the task's ``current_task().cancelled`` flag and drops its late result. In
    every case the task ends ``cancelled`` and ``get_result`` raises ``TaskCancelledError``;
    the stored error message says how it was stopped.
    """

    #: It had not started (queued, waiting or retrying): cancelled now, with its dependents.
    CANCELLED = "cancelled"
    #: It is running: its worker was asked to stop it and does so within about a second.
    REQUESTED = "requested"
    #: It had already finished; nothing changed.
    ALREADY_FINISHED = "already_finished"

    def __bool__(self) -> bool:
        return self is not CancelOutcome.ALREADY_FINISHED
