-- Version 2 of the "tasks" component: adds omniq_workers, the worker registry (one row per
-- running worker, refreshed at each of its heartbeats and deleted on a clean stop; rows of
-- workers that died are pruned by the core). The msgpack WorkerInfo in `data` is the truth;
-- last_heartbeat is a copy (REAL epoch seconds) for anyone reading the table with SQL. Run by
-- omniq_sqlite._schema in one write transaction with the version row. A shipped version is
-- never edited: a change is a new tasks_v3.sql.

CREATE TABLE IF NOT EXISTS omniq_workers (
    project TEXT NOT NULL,
    id TEXT NOT NULL,
    last_heartbeat REAL NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (project, id)
);
