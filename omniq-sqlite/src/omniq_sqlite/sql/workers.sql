-- The task queue's worker-registry statements (omniq_sqlite.queue). They touch omniq_workers
-- only; `data` is the msgpack WorkerInfo.

-- name: put_worker
-- Parameters: project, id, last_heartbeat, data. Replaces the worker's row if it has one.
INSERT INTO omniq_workers (project, id, last_heartbeat, data) VALUES (?, ?, ?, ?)
ON CONFLICT (project, id) DO UPDATE SET
    last_heartbeat = excluded.last_heartbeat, data = excluded.data

-- name: list_workers
SELECT data FROM omniq_workers WHERE project = ? ORDER BY id

-- name: delete_worker
DELETE FROM omniq_workers WHERE project = ? AND id = ?
