-- Version 2 of the "tasks" component: adds omniq_workers, the worker registry (one row per
-- running worker, refreshed at each of its heartbeats and deleted on a clean stop; rows of
-- workers that died are pruned by the core). The schema is the namespace, so no project
-- column. The msgpack WorkerInfo in data is the truth; last_heartbeat (epoch seconds) is a
-- copy for anyone reading the table with SQL. Run by the migration of the "tasks" component
-- (omniq_postgres._engine) in one transaction with its version row. A shipped version is never
-- edited: a change is a new tasks_v3.sql.

CREATE TABLE IF NOT EXISTS omniq_workers (
    id             text   PRIMARY KEY,
    last_heartbeat float8 NOT NULL,
    data           bytea  NOT NULL
);
