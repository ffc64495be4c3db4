-- The result store's statements (omniq_postgres.results), one per "-- name:" block. They
-- touch omniq_results only, qualified with the project's schema when loaded. An expired row
-- stays until purged but no read returns it.

-- name: put_results
-- Upsert a batch of results in project $1 ($2 task ids, $3 data, $4 expires_at,
-- $5 schedule_id, $6 finished_at) and NOTIFY channel $7 with the payloads $8 (comma-separated
-- task ids), in one statement and one commit.
WITH up AS (
    INSERT INTO omniq_results (project, task_id, data, expires_at, schedule_id, finished_at)
    SELECT $1, * FROM unnest($2::text[], $3::bytea[], $4::float8[], $5::text[], $6::float8[])
    ON CONFLICT (project, task_id) DO UPDATE
    SET data = excluded.data, expires_at = excluded.expires_at,
        schedule_id = excluded.schedule_id, finished_at = excluded.finished_at
)
SELECT count(*) FROM (SELECT pg_notify($7, p) FROM unnest($8::text[]) AS p) n

-- name: get_result
-- The result of task $2 (project $1), unless expired at $3.
SELECT data FROM omniq_results WHERE project = $1 AND task_id = $2
    AND (expires_at IS NULL OR expires_at > $3)

-- name: schedule_results
-- The results of schedule $2 (project $1) not expired at $3, oldest first.
SELECT data FROM omniq_results WHERE project = $1 AND schedule_id = $2
    AND (expires_at IS NULL OR expires_at > $3) ORDER BY finished_at, task_id

-- name: latest_schedule_result
SELECT data FROM omniq_results WHERE project = $1 AND schedule_id = $2
    AND (expires_at IS NULL OR expires_at > $3)
ORDER BY finished_at DESC, task_id DESC LIMIT 1

-- name: delete_result
DELETE FROM omniq_results WHERE project = $1 AND task_id = $2

-- name: purge_results
-- Results of project $1 expired at $2.
DELETE FROM omniq_results WHERE project = $1 AND expires_at IS NOT NULL AND expires_at <= $2
