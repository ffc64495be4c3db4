"""What ``cancel()`` did: a str enum that is also true or false, so ``if queue.cancel(id):``
keeps working while callers that care can tell the cases apart."""

from __future__ import annotations

import enum


class CancelOutcome(enum.StrEnum):
    """The answer of ``cancel(task_id)``: ``CANCELLED`` and ``REQUESTED`` are true,
    ``ALREADY_FINISHED`` is false (as ``cancel`` returned True and False before it said which).
    How a worker stops a running task depends on its type (docs/user_guide/tasks.qmd); the task
    then ends ``cancelled`` and ``get_result`` raises ``TaskCancelledError``.
    """

    #: It had not started (queued, waiting or retrying): cancelled now, with its dependents.
    CANCELLED = "cancelled"
    #: It is running: its worker was asked to stop it and does so within about a second.
    REQUESTED = "requested"
    #: It had already finished; nothing changed.
    ALREADY_FINISHED = "already_finished"

    def __bool__(self) -> bool:
        return self is not CancelOutcome.ALREADY_FINISHED
