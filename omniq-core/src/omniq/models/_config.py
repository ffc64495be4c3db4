"""Configuration structs: what ``OmniQ.from_config`` and the YAML/dict/env loaders produce.

msgspec needs the field types at runtime, so no ``from __future__ import annotations``.
Validation that needs more than a type (names, type names) happens in ``__post_init__``, which
runs both for direct construction and for ``msgspec.convert``.
"""

from typing import Any

import msgspec

from ..exceptions import ConfigError


def _default_project_name() -> str:
    # Lazy: omniq.config imports this module. Read at construction, so OMNIQ_PROJECT_NAME
    # applies to a config that does not name its project.
    from omniq.config import get_setting

    name: str = get_setting("PROJECT_NAME")
    return name


def _check_type_name(kind: str, value: str | None) -> None:
    if value is not None:
        from omniq.config import validate_type_name

        validate_type_name(kind, value)


class ConfigStruct(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """Base of every settings struct, plugins' included: unknown fields are errors (a typo
    must not be ignored), ``to_dict`` leaves defaults out (so a config survives a round trip
    through YAML), and ``repr``/``str`` never show a secret (passwords, keys and tokens as
    ``***``, wherever they sit: a field, a URL, a DSN, an options dict)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain builtins (dicts, lists, strings, numbers); default fields left out."""
        data: dict[str, Any] = msgspec.to_builtins(self)
        return data

    def __repr__(self) -> str:
        from omniq.config import redact_value

        parts = []
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if isinstance(value, dict):  # options: config=, storage_options=, ...
                value = {k: redact_value(k, v) for k, v in value.items()}
            elif not isinstance(value, ConfigStruct):
                value = redact_value(name, value)
            parts.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


class ComponentConfig(ConfigStruct, kw_only=True):
    """One storage component: its type name, an optional URL, and type-specific options.

    Attributes:
        type: Registered type name (``sqlite``, ``redis``, ...). None: taken from the URL's
            scheme, or from the settings (``TASK_QUEUE_TYPE`` ...).
        url: Connection URL or path; its scheme may name the type (``redis://...``).
        config: Options passed to the component class (``queues``, ``base_dir``, ``host`` ...);
            each class validates its own.
    """

    type: str | None = None
    url: str | None = None
    config: dict[str, Any] = {}

    def __post_init__(self) -> None:
        _check_type_name("type", self.type)


class TaskQueueConfig(ComponentConfig, kw_only=True):
    """Configuration of the task queue (see :class:`ComponentConfig`)."""


class ResultStoreConfig(ComponentConfig, kw_only=True):
    """Configuration of the result store (see :class:`ComponentConfig`)."""


class EventStoreConfig(ComponentConfig, kw_only=True):
    """Configuration of the event store; without one, task events are off."""


class WorkerConfig(ConfigStruct, kw_only=True):
    """The worker: its type (``async``, ``thread_pool``, ...) and options (``max_workers`` ...)."""

    type: str | None = None
    config: dict[str, Any] = {}

    def __post_init__(self) -> None:
        _check_type_name("type", self.type)
        # Refused here, at load, rather than at start_worker: a worker is often started long
        # after its file was read. A string ("${WORKERS}") is the worker's to convert.
        max_workers = self.config.get("max_workers")
        if isinstance(max_workers, int) and not isinstance(max_workers, bool) and max_workers < 1:
            raise ConfigError("max_workers must be >= 1", field="config.max_workers",
                              value=max_workers, expected="a positive number of workers")


class OmniQConfig(ConfigStruct, kw_only=True):
    """Everything ``OmniQ.from_config`` needs.

    Attributes:
        project_name: Namespaces every store; ``OMNIQ_PROJECT_NAME`` or ``"default"`` when
            not given.
        task_queue: The task queue; None: ``backend_type`` or the settings decide.
        result_store: The result store; None: same type as the task queue.
        event_store: The event store; None: events off.
        worker: The worker type and options; None: ``DEFAULT_WORKER``.
        queues: Queues the worker takes tasks from, highest priority first.
        backend_type: One engine for all three stores (``OmniQ(backend_type="sqlite")``).
        secret_key: Key that signs task envelopes; None: ``OMNIQ_SECRET_KEY`` or the
            per-project generated key.
    """

    project_name: str = msgspec.field(default_factory=_default_project_name)
    task_queue: TaskQueueConfig | None = None
    result_store: ResultStoreConfig | None = None
    event_store: EventStoreConfig | None = None
    worker: WorkerConfig | None = None
    queues: list[str] | None = None
    backend_type: str | None = None
    secret_key: str | None = None

    def __post_init__(self) -> None:
        from omniq.config import validate_name

        validate_name("project", self.project_name)
        for index, queue in enumerate(self.queues or ()):
            try:
                validate_name("queue", queue)
            except ConfigError as exc:
                raise ConfigError("invalid queue name", field=f"queues[{index}]", value=queue,
                                  expected=exc.expected) from None
        _check_type_name("backend_type", self.backend_type)
