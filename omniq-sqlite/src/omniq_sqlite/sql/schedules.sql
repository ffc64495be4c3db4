-- The task queue's schedule statements (omniq_sqlite.queue), one per "-- name:" block. They
-- touch omniq_schedules only. Every write sets `data` (the msgpack Schedule, the truth)
-- together with the columns copied from it; `version` is the compare-and-set counter.

-- name: insert_schedule
-- Parameters: project, id, status, next_run_at, version, data. A schedule whose id exists
-- is left as it is.
INSERT INTO omniq_schedules (project, id, status, next_run_at, version, data)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (project, id) DO NOTHING

-- name: get_schedule
SELECT data FROM omniq_schedules WHERE project = ? AND id = ?

-- name: list_schedules
-- {where}: "project = ?" and the status filter if given. Parameters: theirs.
SELECT data FROM omniq_schedules WHERE {where} ORDER BY id

-- name: update_schedule
-- Compare-and-set. Parameters: status, next_run_at, version, data, project, id,
-- expected version.
UPDATE omniq_schedules SET status = ?, next_run_at = ?, version = ?, data = ?
WHERE project = ? AND id = ? AND version = ?

-- name: delete_schedule
DELETE FROM omniq_schedules WHERE project = ? AND id = ?

-- name: due_schedules
-- Parameters: project, now, limit.
SELECT data FROM omniq_schedules WHERE project = ? AND status = 'active'
    AND next_run_at <= ? ORDER BY next_run_at, id LIMIT ?
