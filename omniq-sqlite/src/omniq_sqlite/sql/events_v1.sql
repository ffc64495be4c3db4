-- Version 1 of the "events" component: creates omniq_events (each event as JSON text in
-- `body`, readable by any SQLite tool, plus indexed columns for the queries by time, task,
-- schedule and type). Run by omniq_sqlite._sql in one write transaction with the version
-- row. A shipped version is never edited: a change is a new events_v2.sql.

CREATE TABLE IF NOT EXISTS omniq_events (
    project TEXT NOT NULL,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    ts REAL NOT NULL,
    task_id TEXT,
    schedule_id TEXT,
    body TEXT NOT NULL,
    PRIMARY KEY (project, id)
);
CREATE INDEX IF NOT EXISTS omniq_events_ts ON omniq_events (project, ts, id);
CREATE INDEX IF NOT EXISTS omniq_events_task
    ON omniq_events (project, task_id, ts) WHERE task_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS omniq_events_schedule
    ON omniq_events (project, schedule_id, ts) WHERE schedule_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS omniq_events_type ON omniq_events (project, type, ts);
