"""One error tree for OmniQ.

Every error the public API raises derives from :class:`OmniQError`, and subclasses a built-in
where one fits, so ``except LookupError`` or ``except TimeoutError`` keep working. Driver
exceptions are translated at the backend boundary (``raise ... from``) and never leak.
Only :class:`BackendUnavailableError` is transient: callers may retry it, nothing else.
"""

from __future__ import annotations


class OmniQError(Exception):
    """Base class of every OmniQ error."""


class ConfigError(OmniQError, ValueError):
    """A setting, argument or configuration file is invalid.

    The message names the field, the value given and what was expected.
    """

    def __init__(self, message: str, *, field: str | None = None, value: object = None,
                 expected: str | None = None, source: str | None = None,
                 hint: str | None = None) -> None:
        self.message, self.hint = message, hint
        self.field, self.value, self.expected, self.source = field, value, expected, source
        parts = [message]
        if field is not None:
            parts.append(f"field {field!r} = {_shown(field, value)!r}")
        if expected is not None:
            parts.append(f"expected {expected}")
        if source is not None:
            parts.append(f"in {source}")
        if hint:
            parts.append(hint)
        super().__init__("; ".join(parts))


def _shown(field: str, value: object) -> object:
    """``value`` as a message may show it: a secret's hidden, a URL's password too, whoever
    raised the error (the ``value`` attribute keeps it whole)."""
    try:
        from .config._validate import redact_value
    except ImportError:  # omniq.config itself being imported: nothing secret there yet
        return value
    return redact_value(field.rsplit(".", 1)[-1], value)


class PluginNotFoundError(OmniQError, LookupError):
    """No installed plugin provides the requested type name."""


class SerializationError(OmniQError, TypeError):
    """A value could not be serialized or deserialized."""


class SignatureError(SerializationError):
    """A payload's signature is missing, unknown or wrong: it is refused, never run."""


class TaskNotFoundError(OmniQError, LookupError):
    """No task (or result, or schedule) with that id exists."""


class ScheduleNotFoundError(TaskNotFoundError):
    """No schedule with that id exists."""


class TaskFailedError(OmniQError):
    """The task ran and failed for good.

    Attributes carry the remote exception: its type name, message and formatted traceback.
    No class is imported from the data; ``exc_type`` is only a name.
    """

    def __init__(self, task_id: str, exc_type: str, message: str,
                 traceback: str | None = None) -> None:
        self.task_id, self.exc_type, self.message = task_id, exc_type, message
        self.remote_traceback = traceback
        super().__init__(f"task {task_id} failed: {exc_type}: {message}")


class TaskCancelledError(OmniQError):
    """The task was cancelled (or expired) before it produced a result.

    The caller of ``get_result`` gets it; task code raises it too (through
    ``TaskContext.raise_if_cancelled``) to stop when its cancel was requested.
    """

    def __init__(self, task_id: str, status: str = "cancelled", reason: str | None = None
                 ) -> None:
        self.task_id, self.status, self.reason = task_id, status, reason
        suffix = f": {reason}" if reason else ""
        super().__init__(f"task {task_id} is {status}{suffix}")

    def __reduce__(self) -> tuple[type[TaskCancelledError], tuple[str, str, str | None]]:
        # Crosses process boundaries (process-pool workers) with its own arguments.
        return type(self), (self.task_id, self.status, self.reason)


class TaskTimeoutError(OmniQError, TimeoutError):
    """Waiting for a result, or running a task, took longer than its timeout."""


class BackendUnavailableError(OmniQError, ConnectionError):
    """The store could not be reached. Transient: the same call may be retried safely."""


class BackendError(OmniQError):
    """The store answered, but not as expected (wrong schema, wrong key type, ...). Permanent."""


__all__ = ["BackendError", "BackendUnavailableError", "ConfigError", "OmniQError",
           "PluginNotFoundError", "ScheduleNotFoundError", "SerializationError", "SignatureError",
           "TaskCancelledError", "TaskFailedError", "TaskNotFoundError", "TaskTimeoutError"]
