-- The task queue's worker-registry statements (omniq_postgres.queue). They touch
-- omniq_workers only, qualified with the project's schema when loaded; data is the msgpack
-- WorkerInfo.

-- name: put_worker
-- $1 id, $2 last_heartbeat, $3 data. Replaces the worker's row if it has one.
INSERT INTO omniq_workers (id, last_heartbeat, data) VALUES ($1, $2, $3)
ON CONFLICT (id) DO UPDATE SET last_heartbeat = excluded.last_heartbeat, data = excluded.data

-- name: list_workers
SELECT data FROM omniq_workers ORDER BY id

-- name: delete_workers
-- $1 the ids. Returns how many rows were deleted.
WITH gone AS (DELETE FROM omniq_workers WHERE id = ANY($1::text[]) RETURNING 1)
SELECT count(*) FROM gone
