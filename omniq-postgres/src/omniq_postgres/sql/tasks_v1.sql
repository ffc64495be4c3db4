-- Version 1 of the "tasks" component: creates omniq_task_deps (parent -> child edges),
-- omniq_schedules, omniq_tasks (the hot table of unfinished tasks) and omniq_tasks_done
-- (finished ones), with their indexes. Run by the migration of the "tasks" component
-- (omniq_postgres._engine) in one transaction with its version row, after the schema exists.
-- Table names are qualified with the project's schema when loaded, and the schema is the
-- namespace, so the task tables need no project column (the others keep a constant one). A
-- shipped version is never edited: a change is a new tasks_v2.sql.
--
-- A claim here is a single UPDATE that sets status, attempts, worker_id, started_at and
-- lease_expires_at as columns, so it needs no second write: those five columns are the truth
-- and win over the copies in the msgpack Task in data when read; data is the truth for every
-- other field, and queue, priority, run_at and finished_at are copies written with it. A task
-- that finishes moves to omniq_tasks_done in the statement that finishes it, so the hot table
-- (and its vacuum) stays as small as the backlog.

CREATE TABLE IF NOT EXISTS omniq_task_deps (
    project TEXT NOT NULL,
    parent_id TEXT NOT NULL,
    child_id TEXT NOT NULL,
    PRIMARY KEY (project, parent_id, child_id)
);

-- The msgpack Schedule in data is the truth; status and next_run_at are copies for the
-- due-schedules query, version the compare-and-set counter.
CREATE TABLE IF NOT EXISTS omniq_schedules (
    project TEXT NOT NULL,
    id TEXT NOT NULL,
    status TEXT NOT NULL,
    next_run_at DOUBLE PRECISION,
    version INTEGER NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (project, id)
);
CREATE INDEX IF NOT EXISTS omniq_schedules_due
    ON omniq_schedules (project, next_run_at) WHERE status = 'active';

CREATE TABLE omniq_tasks (
    id               text    PRIMARY KEY,
    queue            text    NOT NULL,
    status           text    NOT NULL,
    priority         integer NOT NULL,
    run_at           float8  NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    worker_id        text,
    started_at       float8,
    lease_expires_at float8,
    data             bytea   NOT NULL
) WITH (fillfactor = 90, autovacuum_vacuum_scale_factor = 0.01,
        autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.02,
        autovacuum_vacuum_cost_delay = 0);

-- Claims walk this index in claim order, one queue at a time: a few index probes whatever the
-- backlog.
CREATE INDEX omniq_tasks_runnable ON omniq_tasks (queue, priority DESC, run_at, id)
    WHERE status IN ('pending', 'retrying');
CREATE INDEX omniq_tasks_leases ON omniq_tasks (lease_expires_at) WHERE status = 'running';

CREATE TABLE omniq_tasks_done (
    id               text    PRIMARY KEY,
    queue            text    NOT NULL,
    status           text    NOT NULL,
    priority         integer NOT NULL,
    run_at           float8  NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    worker_id        text,
    started_at       float8,
    lease_expires_at float8,
    finished_at      float8,
    data             bytea   NOT NULL
);
-- Listing and counting finished tasks by status and queue (dead letters are status 'failed').
CREATE INDEX omniq_tasks_done_status ON omniq_tasks_done (status, queue, id);
CREATE INDEX omniq_tasks_done_finished ON omniq_tasks_done USING brin (finished_at);
CREATE INDEX omniq_task_deps_child ON omniq_task_deps (project, child_id);
