"""OmniQ's settings: plain constants, without the ``OMNIQ_`` prefix.

Each constant here is the built-in default of one setting. An environment variable with the
``OMNIQ_`` prefix overrides it (``MAX_WORKERS`` <- ``OMNIQ_MAX_WORKERS``): read settings through
:func:`omniq.config.get_setting`, which looks at the environment at call time and converts the
value to the constant's type, never through these names directly. A program may also assign
to a constant here (``omniq.config.settings.MAX_WORKERS = 4``); the environment still wins.

Durations are seconds (floats). ``None`` means "not set": no timeout, no expiry, and so on,
as each comment says.
"""

from __future__ import annotations

import os

#: Name of the project; namespaces queues, tables, keys and subjects in every backend.
PROJECT_NAME: str = "default"
#: Directory for local state (SQLite databases, file queues). Relative paths are resolved
#: against the current working directory when a component uses them, so the default keeps
#: each project's data beside the project rather than in one per-user place.
BASE_DIR: str = ".omniq"

# -- library logging (task events are a separate thing) --------------------------------------
#: Level of the ``omniq`` loggers: DEBUG, INFO, WARNING, ERROR, CRITICAL or DISABLED. Applied
#: by the ``omniq`` command and ``configure_logging()``, and, from ``OMNIQ_LOG_LEVEL`` (as the
#: two below from theirs), when OmniQ is imported; set in code, it takes a call of those two.
LOG_LEVEL: str = "WARNING"
#: True silences every ``omniq`` logger, whatever the levels say.
DISABLE_LOGGING: bool = False
#: Per-logger levels, e.g. ``{"omniq.worker": "DEBUG"}``; from the environment as JSON.
COMPONENT_LOG_LEVELS: dict[str, str] = {}

# -- components --------------------------------------------------------------------------------
#: Type name of the task queue (``memory``, ``sqlite``, ``postgres``, ``redis``, ``nats``,
#: ``file``, or any installed plugin's).
TASK_QUEUE_TYPE: str = "memory"
#: Connection URL of the task queue; None lets the backend use its own default.
TASK_QUEUE_URL: str | None = None
#: Type name of the result store; None means the same type as the task queue.
RESULT_STORAGE_TYPE: str | None = None
#: Connection URL of the result store (its scheme may name the type); None: the type's default.
RESULT_STORAGE_URL: str | None = None
#: Type name of the event store; None turns task events off (they then cost nothing).
EVENT_STORAGE_TYPE: str | None = None
#: Connection URL of the event store (its scheme may name the type); setting it turns events on.
EVENT_STORAGE_URL: str | None = None
#: fsspec URI for the ``file`` backend (``file:///path``, ``s3://bucket``, ``memory://``).
FSSPEC_URI: str | None = None
#: Queues a worker takes tasks from, highest priority first.
QUEUES: list[str] = ["default"]

# -- workers -----------------------------------------------------------------------------------
#: Worker type: ``async``, ``thread_pool``, ``process_pool``, ``gevent`` or a plugin's.
DEFAULT_WORKER: str = "async"
#: Tasks one worker runs at once (the ``async`` worker's default ``max_workers``).
MAX_WORKERS: int = 10
#: Default ``max_workers`` of the ``thread_pool`` worker: its threads.
THREAD_WORKERS: int = 10
#: Default ``max_workers`` of the ``process_pool`` worker: its processes (the CPU count).
PROCESS_WORKERS: int = os.cpu_count() or 1
#: Default ``max_workers`` of the ``gevent`` worker: its greenlets.
GEVENT_WORKERS: int = 100

# -- task defaults -----------------------------------------------------------------------------
#: Seconds a task may run; None = no limit.
TASK_TIMEOUT: float | None = None
#: Seconds a task may wait in the queue before it expires unrun; None = never expires.
TASK_TTL: float | None = None
#: Retries after the first failed attempt.
RETRY_ATTEMPTS: int = 0
#: The base of the retry backoff: retry n (from 0) waits this times 2**n, capped at an hour,
#: times a random factor in [0.5, 1] (so the first retry comes after half to all of it).
RETRY_DELAY: float = 1.0
#: Seconds a result is kept; None = kept until deleted.
RESULT_TTL: float | None = None

# -- delivery ----------------------------------------------------------------------------------
#: Seconds a claim lasts without a heartbeat (a task's own timeout sizes its lease when longer).
LEASE_SECONDS: float = 30.0
#: Seconds between polls, for engines that cannot wake an idle worker.
POLL_INTERVAL: float = 0.5
#: Seconds between two refreshes of a worker's record in the worker registry (``omniq status``,
#: ``list_workers()``); a worker that misses three in a row is shown as gone.
WORKER_HEARTBEAT: float = 5.0
#: Crash redeliveries after which a task is dead-lettered as a poison pill.
MAX_DELIVERIES: int = 5
#: Seconds events are kept; None = kept until purged by hand.
EVENT_RETENTION: float | None = 7 * 24 * 3600.0

# -- security ----------------------------------------------------------------------------------
#: Key that signs task envelopes. None: a key generated once per project and kept in the
#: user's config directory (fine on one machine; set the same key on every machine otherwise).
SECRET_KEY: str | None = None

# -- observability (docs/user_guide/operations.qmd) -----------------------------------------------
#: Record Prometheus metrics (``prometheus-client``) in this process's default registry.
METRICS: bool = False
#: Port a worker serves its metrics on (0: any free port); None: not served. Implies METRICS.
METRICS_PORT: int | None = None
#: Address a worker's metrics are served on; loopback unless you choose otherwise.
METRICS_HOST: str = "127.0.0.1"
#: Record OpenTelemetry spans (``opentelemetry-api``) for enqueue, claim, execute, complete.
TRACING: bool = False

#: Every setting's name, in the order above.
NAMES: tuple[str, ...] = tuple(
    name for name in dict(globals()) if name.isupper() and name != "NAMES"
)
