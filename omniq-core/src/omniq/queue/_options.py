"""Checking enqueue options before a task is built.

``enqueue(f, retires=3)`` or ``enqueue(f, func_args=(2, 3))`` would otherwise fail with Python's
``unexpected keyword argument`` or ``'tuple' object is not a mapping``; this names the option,
what was expected and the closest valid name.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..config import check_options
from ..exceptions import ConfigError

# Options holding the keyword arguments of a call: a mapping of names to values.
_MAPPINGS = ("func_args", "func_kwargs", "callback_args")
# Options holding several strings: one string there would be taken letter by letter.
_LISTS = {"tags": "tags=['images']", "depends_on": "depends_on=[parent_id]"}
# Parameters of build_task that enqueue fills in itself.
_INTERNAL = ("func", "now", "schedule_id")
# Options of Celery's apply_async and RQ's enqueue, and how OmniQ says the same: a user coming
# from them types these first, and the closest spelling ("args" -> "tags") would mislead.
_PEER_NAMES = {
    "args": "pass positional arguments after the function: enqueue(func, 2, 3)",
    "kwargs": "use func_kwargs={'x': 2} (or func_args=)",
    "queue": "use queue_name='high'",
    "countdown": "use run_in=seconds (or a timedelta)",
    "eta": "use run_at=a timezone-aware datetime",
    "expires": "use ttl=seconds (a task not started by then expires)",
    "job_id": "use task_id='...'",
    "job_timeout": "use timeout=seconds",
    "retry": "use max_retries=3 and retry_delay=seconds",
    "retries": "use max_retries=3",
    "at_front": "use priority=10 (higher runs first within its queue)",
    "link": "use callback=func (it gets the result)",
    "on_success": "use callback=func (it gets the result)",
}


def check_task_options(build_task: Callable[..., Any], options: Mapping[str, Any],
                       func: Callable[..., Any] | None = None) -> None:
    """Raise a ConfigError for an option ``build_task`` does not take or a malformed value
    (``func``: the function enqueued, whose own parameters a stray option may be)."""
    for name in options.keys() & _PEER_NAMES.keys():
        raise ConfigError(f"unknown option {name!r} for enqueue", field=name,
                          value=options[name], hint=_PEER_NAMES[name])
    _refuse_arguments_given_as_options(build_task, options, func)
    check_options(build_task, options, what="enqueue", ignore=_INTERNAL)
    for name in _MAPPINGS:
        value = options.get(name)
        if value is not None and not isinstance(value, Mapping):
            raise ConfigError(
                f"{name} must be a mapping of keyword arguments", field=name, value=value,
                expected="a dict such as {'x': 2, 'y': 3}; " + (
                    "the callback gets the result first, then these by name"
                    if name == "callback_args" else
                    "pass positional arguments after the function: enqueue(func, 2, 3)"))
    for name, example in _LISTS.items():
        value = options.get(name)
        if isinstance(value, str | bytes):
            raise ConfigError(f"{name} must be a list of strings, not one string", field=name,
                              value=value, expected=f"a list, even of one: {example}")


def _refuse_arguments_given_as_options(build_task: Callable[..., Any],
                                       options: Mapping[str, Any],
                                       func: Callable[..., Any] | None) -> None:
    """``enqueue(add, x=1, y=2)`` (RQ's way): the function's own arguments among the options,
    named as such, with the form that passes them."""
    if func is None:
        return
    try:
        taken = inspect.signature(build_task).parameters
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return
    stray = [name for name in options if name not in taken and name in params]
    if stray:
        name = getattr(func, "__name__", type(func).__name__)
        given = ", ".join(f"{key!r}: ..." for key in stray)
        what = "a parameter" if len(stray) == 1 else "parameters"
        raise ConfigError(f"{', '.join(stray)}: {what} of {name}(), not of enqueue",
                          field=stray[0], value=f"{name}(...)",
                          hint=f"pass the function's keyword arguments as func_kwargs={{{given}}}"
                               " (or positionally, after the function)")


def explain_missing_argument(exc: ConfigError, options: Mapping[str, Any]) -> ConfigError:
    """``exc`` with a hint when the function misses a required argument that was given as an
    enqueue option of the same name (``enqueue(send, "a", timeout=5)`` for
    ``send(to, timeout)``: ``timeout=`` is the task's)."""
    missing = re.search(r"missing a required argument: '(\w+)'", exc.message)
    if exc.hint or missing is None or missing[1] not in options:
        return exc
    name = missing[1]
    return ConfigError(exc.message, field=exc.field, value=exc.value, expected=exc.expected,
                       hint=f"{name}= is enqueue's own option (the task's {name}); pass the "
                            f"function's {name} as func_kwargs={{{name!r}: ...}}")


# Calls known to bind, keyed by the function's id, the number of positional arguments and the
# keyword names (whether a call binds depends on nothing else), so a function enqueued again
# costs a dict lookup. The function is kept as the value: its id cannot be reused meanwhile.
_fits: dict[tuple[int, int, tuple[str, ...]], Any] = {}
_FITS_LIMIT = 4096


def check_arguments(func: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any],
                    *, field: str = "func_args") -> None:
    """Raise a ConfigError when ``func(*args, **kwargs)`` cannot bind to ``func``'s signature:
    a misspelt or missing argument fails at enqueue, not in a worker later.

    The message shows the call's shape and the signature, never the values (they may be
    secrets). Callables without a signature (some builtins) are not checked, and a decorated
    function is checked against its wrapper's signature, not the one ``functools.wraps``
    copied: a decorator may supply arguments itself (a database session, a client).
    """
    key = (id(func), len(args), tuple(kwargs))
    if _fits.get(key) is func:
        return
    try:
        signature = inspect.signature(func, follow_wrapped=False)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        name = getattr(func, "__name__", type(func).__name__)
        shape = ", ".join(["..."] * len(args) + [f"{keyword}=..." for keyword in kwargs])
        raise ConfigError(f"{name}() cannot take these arguments: {exc}", field=field,
                          value=f"{name}({shape})",
                          expected=f"arguments matching {name}{signature}") from None
    if len(_fits) >= _FITS_LIMIT:
        _fits.clear()
    _fits[key] = func


__all__ = ["check_arguments", "check_task_options", "explain_missing_argument"]
