"""Checking enqueue options before a task is built.

``enqueue(f, retires=3)`` or ``enqueue(f, func_args=(2, 3))`` would otherwise fail with Python's
``unexpected keyword argument`` or ``'tuple' object is not a mapping``; this names the option,
what was expected and the closest valid name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..config import check_options
from ..exceptions import ConfigError

# Options holding the keyword arguments of a call: a mapping of names to values.
_MAPPINGS = ("func_args", "func_kwargs", "callback_args")
# Parameters of build_task that enqueue fills in itself.
_INTERNAL = ("func", "now", "schedule_id")


def check_task_options(build_task: Callable[..., Any], options: Mapping[str, Any]) -> None:
    """Raise a ConfigError for an option ``build_task`` does not take or a malformed value."""
    check_options(build_task, options, what="enqueue", ignore=_INTERNAL)
    for name in _MAPPINGS:
        value = options.get(name)
        if value is not None and not isinstance(value, Mapping):
            raise ConfigError(
                f"{name} must be a mapping of keyword arguments", field=name, value=value,
                expected="a dict such as {'x': 2, 'y': 3}; pass positional arguments after "
                         "the function: enqueue(func, 2, 3)")


__all__ = ["check_task_options"]
