-- The result store's own statement (omniq_postgres.results); reads, deletes and purges use the
-- statements both engines share (omniq._sql). Touches omniq_results, qualified with the
-- project's schema when loaded.

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
