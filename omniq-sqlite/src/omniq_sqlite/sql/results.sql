-- The result store's statements (omniq_sqlite.results; the queue writes results with
-- put_result too, in the transaction that finishes their tasks). They touch omniq_results
-- only. An expired row stays until purged but no read returns it.

-- name: put_result
-- Parameters: result_row(): project, task id, schedule id, finished_at, expires_at, data.
INSERT INTO omniq_results (project, task_id, schedule_id, finished_at, expires_at, data)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (project, task_id) DO UPDATE SET
    schedule_id = excluded.schedule_id, finished_at = excluded.finished_at,
    expires_at = excluded.expires_at, data = excluded.data

-- name: get_result
-- Parameters: project, task id, now.
SELECT data FROM omniq_results WHERE project = ? AND task_id = ?
    AND (expires_at IS NULL OR expires_at > ?)

-- name: schedule_results
-- Parameters: project, schedule id, now.
SELECT data FROM omniq_results WHERE project = ? AND schedule_id = ?
    AND (expires_at IS NULL OR expires_at > ?) ORDER BY finished_at, task_id

-- name: latest_schedule_result
SELECT data FROM omniq_results WHERE project = ? AND schedule_id = ?
    AND (expires_at IS NULL OR expires_at > ?)
ORDER BY finished_at DESC, task_id DESC LIMIT 1

-- name: delete_result
DELETE FROM omniq_results WHERE project = ? AND task_id = ?

-- name: purge_results
-- Parameters: project, now.
DELETE FROM omniq_results WHERE project = ? AND expires_at IS NOT NULL AND expires_at <= ?
