-- Version 1 of the PostgreSQL task tables: omniq_tasks (the hot table of unfinished tasks) and
-- omniq_tasks_done (finished ones). Run by the migration of the "tasks" component, inside its
-- transaction, after the schema exists; omniq_task_deps and omniq_schedules come from the DDL
-- both engines share (omniq._sql). Table names are qualified with the project's schema when
-- loaded, and the schema is the namespace, so these tables need no project column.
--
-- They differ from SQLite's omniq_tasks on purpose: a claim here is a single UPDATE that sets
-- status, attempts, worker_id, started_at and lease_expires_at as columns (which win over the
-- msgpack Task in data when read), so it needs no second write; and a task that finishes
-- moves to omniq_tasks_done in the statement that finishes it, so the hot table (and its
-- vacuum) stays as small as the backlog.

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
