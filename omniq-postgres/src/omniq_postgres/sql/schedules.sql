-- The task queue's schedule statements (omniq_postgres.queue), one per "-- name:" block.
-- They touch omniq_schedules only, qualified with the project's schema when loaded. Every
-- write sets data (the msgpack Schedule, the truth) together with the columns copied from it;
-- version is the compare-and-set counter.

-- name: insert_schedule
-- $1 project, $2 id, $3 status, $4 next_run_at, $5 version, $6 data. An existing id is kept.
INSERT INTO omniq_schedules (project, id, status, next_run_at, version, data)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (project, id) DO NOTHING

-- name: get_schedule
SELECT data FROM omniq_schedules WHERE project = $1 AND id = $2

-- name: list_schedules
SELECT data FROM omniq_schedules WHERE project = $1 ORDER BY id

-- name: list_schedules_by_status
SELECT data FROM omniq_schedules WHERE project = $1 AND status = $2 ORDER BY id

-- name: update_schedule
-- Compare-and-set: $1 status, $2 next_run_at, $3 version, $4 data of schedule $6 (project
-- $5), only if its version is still $7.
UPDATE omniq_schedules SET status = $1, next_run_at = $2, version = $3, data = $4
WHERE project = $5 AND id = $6 AND version = $7

-- name: delete_schedule
DELETE FROM omniq_schedules WHERE project = $1 AND id = $2

-- name: due_schedules
-- Up to $3 active schedules of project $1 due at $2.
SELECT data FROM omniq_schedules WHERE project = $1 AND status = 'active'
    AND next_run_at <= $2 ORDER BY next_run_at, id LIMIT $3
