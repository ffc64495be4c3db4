-- Version 1 of the "tasks" component: creates omniq_tasks (every task, unfinished and
-- finished), omniq_task_deps (parent -> child edges, so `dependents` is an index lookup) and
-- omniq_schedules, with their indexes. Run by omniq_sqlite._sql in one write transaction
-- with the version row. A shipped version is never edited: a change is a new tasks_v2.sql.
--
-- The msgpack Task in `data` is the truth; the other columns are copies of its fields that
-- the queries filter and sort by, written in the same statement as `data` (a claim rewrites
-- `data` in its own transaction). Times are REAL epoch seconds.

CREATE TABLE IF NOT EXISTS omniq_tasks (
    project TEXT NOT NULL,
    id TEXT NOT NULL,
    queue TEXT NOT NULL,
    status TEXT NOT NULL,
    priority INTEGER NOT NULL,
    run_at REAL NOT NULL,
    lease_expires_at REAL,
    attempts INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (project, id)
);

-- The claim walks this index in claim order and stops after LIMIT rows: its cost does not
-- grow with the number of waiting tasks. Only runnable rows are in it, so finished tasks
-- cost nothing here.
CREATE INDEX IF NOT EXISTS omniq_tasks_runnable
    ON omniq_tasks (project, queue, priority DESC, run_at, id)
    WHERE status IN ('pending', 'retrying');
CREATE INDEX IF NOT EXISTS omniq_tasks_leases
    ON omniq_tasks (project, lease_expires_at) WHERE status = 'running';
CREATE INDEX IF NOT EXISTS omniq_tasks_queue_status
    ON omniq_tasks (project, queue, status, id);
CREATE INDEX IF NOT EXISTS omniq_tasks_status
    ON omniq_tasks (project, status, id);

CREATE TABLE IF NOT EXISTS omniq_task_deps (
    project TEXT NOT NULL,
    parent_id TEXT NOT NULL,
    child_id TEXT NOT NULL,
    PRIMARY KEY (project, parent_id, child_id)
);

-- The msgpack Schedule in `data` is the truth; status and next_run_at are copies for the
-- due-schedules query, version the compare-and-set counter.
CREATE TABLE IF NOT EXISTS omniq_schedules (
    project TEXT NOT NULL,
    id TEXT NOT NULL,
    status TEXT NOT NULL,
    next_run_at REAL,
    version INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (project, id)
);
CREATE INDEX IF NOT EXISTS omniq_schedules_due
    ON omniq_schedules (project, next_run_at) WHERE status = 'active';
