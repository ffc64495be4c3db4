-- Version 1 of the "results" component: creates omniq_results (signed result blobs in
-- `data`, with finish time, expiry and schedule id as REAL epoch seconds / text for the
-- queries) and its indexes. Run by omniq_sqlite._sql in one write transaction with the
-- version row. A shipped version is never edited: a change is a new results_v2.sql.

CREATE TABLE IF NOT EXISTS omniq_results (
    project TEXT NOT NULL,
    task_id TEXT NOT NULL,
    schedule_id TEXT,
    finished_at REAL NOT NULL,
    expires_at REAL,
    data BLOB NOT NULL,
    PRIMARY KEY (project, task_id)
);
CREATE INDEX IF NOT EXISTS omniq_results_schedule
    ON omniq_results (project, schedule_id, finished_at) WHERE schedule_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS omniq_results_expiry
    ON omniq_results (project, expires_at) WHERE expires_at IS NOT NULL;
