-- The task queue's statements (omniq_postgres.queue), one per "-- name:" block; schedules
-- have theirs in schedules.sql. They touch omniq_tasks (unfinished tasks), omniq_tasks_done
-- (finished ones), omniq_task_ids (the ids of both) and omniq_task_deps, qualified with the
-- project's schema when loaded. Times are float8 epoch seconds. Task rows are read as (data,
-- status, attempts, worker_id, started_at, lease_expires_at, id): those columns win over the
-- msgpack Task in data, because a claim and a lease extension change only them (the id lets a
-- damaged record be handed out).

-- name: add_tasks
-- Insert the tasks ($1..$6) whose id omniq_task_ids does not hold yet (its key decides, so a
-- task that finishes meanwhile cannot be let in again), index their dependencies ($7 parents
-- of $8 children, in project $11), and NOTIFY channel $9 with the payloads $10 ('queue eta').
-- Returns the inserted ids. When every id is new (the usual case) the rows go in without
-- pairing them with the ids let in: that pairing is a nested loop (the pool's sessions turn
-- hash joins off), quadratic in a batch of 1,000, so it is left to batches with a known id.
WITH fresh AS (
    INSERT INTO omniq_task_ids (id) SELECT unnest($1::text[])
    ON CONFLICT (id) DO NOTHING
    RETURNING id
), all_new AS (
    SELECT count(*) = cardinality($1::text[]) AS yes FROM fresh
), given AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::float8[], $6::bytea[])
        AS n(id, queue, status, priority, run_at, data)
), ins AS (
    INSERT INTO omniq_tasks (id, queue, status, priority, run_at, attempts, data)
    SELECT id, queue, status, priority, run_at, 0, data FROM given, all_new WHERE all_new.yes
    UNION ALL
    SELECT id, queue, status, priority, run_at, 0, data FROM given, all_new
    WHERE NOT all_new.yes AND id IN (SELECT id FROM fresh)
    ON CONFLICT (id) DO NOTHING
    RETURNING id
), deps AS (
    INSERT INTO omniq_task_deps (project, parent_id, child_id)
    SELECT $11, d.parent, d.child FROM unnest($7::text[], $8::text[]) AS d(parent, child)
    JOIN ins ON ins.id = d.child
    ON CONFLICT DO NOTHING
)
SELECT array(SELECT id FROM ins) AS ids,
       (SELECT count(*) FROM (SELECT pg_notify($9, w) FROM unnest($10::text[]) AS w) n) AS woke

-- name: claim
-- Lease up to $3 runnable tasks (run_at <= $2) of the queues $1 to worker $4 until $5.
-- Each queue is read through omniq_tasks_runnable in claim order (earlier queues first), so
-- the cost is a few index probes whatever the backlog; SKIP LOCKED lets claimers pass.
-- A lease need not survive a server crash (the task would just be claimable again), so the
-- commit does not wait for the WAL flush (synchronous_commit off for this transaction).
WITH picked AS (
    SELECT c.id
    FROM unnest($1::text[]) WITH ORDINALITY AS q(name, pos)
    CROSS JOIN LATERAL (
        SELECT t.id, t.priority, t.run_at FROM omniq_tasks t
        WHERE t.queue = q.name AND t.status IN ('pending', 'retrying') AND t.run_at <= $2
        ORDER BY t.priority DESC, t.run_at, t.id
        LIMIT $3
        FOR UPDATE SKIP LOCKED
    ) c
    ORDER BY q.pos, c.priority DESC, c.run_at, c.id
    LIMIT $3
)
UPDATE omniq_tasks t
SET status = 'running', attempts = t.attempts + 1, worker_id = $4, started_at = $2,
    lease_expires_at = $5
FROM picked, (SELECT set_config('synchronous_commit', 'off', true)) AS lazy(commit)
WHERE t.id = picked.id
RETURNING t.data, t.attempts, t.id, t.queue

-- name: extend_lease
-- Move the lease of attempt $2 of running task $1 to $3 unless it is later already, and
-- nothing else: what the row holds (progress, a cancel request written meanwhile) comes back
-- with it. Like a claim, it need not survive a crash, so it does not wait for the WAL flush.
UPDATE omniq_tasks t SET lease_expires_at = GREATEST(t.lease_expires_at, $3)
FROM (SELECT set_config('synchronous_commit', 'off', true)) AS lazy(commit)
WHERE t.id = $1 AND t.status = 'running' AND t.attempts = $2
RETURNING t.data, t.status, t.attempts, t.worker_id, t.started_at, t.lease_expires_at, t.id

-- name: get_running
-- Running attempt $2 of task $1, with its blob exactly as stored (for replace_running).
SELECT data, status, attempts, worker_id, started_at, lease_expires_at, id
FROM omniq_tasks WHERE id = $1 AND status = 'running' AND attempts = $2

-- name: replace_running
-- Compare-and-set of a running attempt: the blob becomes $4 (and the lease $5) only if it
-- is still $3, the one the caller read and changed, so no write landing between is lost.
UPDATE omniq_tasks SET data = $4, lease_expires_at = $5
WHERE id = $1 AND status = 'running' AND attempts = $2 AND data = $3
RETURNING id

-- name: update_active
-- Fenced writes ($1..$14, one array per column) of tasks in omniq_tasks: a row is written
-- only if its status is one of "expect" (comma-separated) and, when expect_attempts is given,
-- its attempts equal it. A task going to a final status ("final") moves to omniq_tasks_done.
-- Returns the written ids and those of the moved tasks that have dependents (project $17);
-- NOTIFYs the payloads $16 on channel $15; commits with synchronous_commit = $18.
WITH u AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::int[],
                         $7::float8[], $8::int[], $9::text[], $10::float8[], $11::float8[],
                         $12::float8[], $13::bytea[], $14::bool[])
        AS u(id, status, expect, expect_attempts, queue, priority, run_at, attempts, worker_id,
             started_at, lease_expires_at, finished_at, data, final)
), kept AS (
    UPDATE omniq_tasks t
    SET status = u.status, queue = u.queue, priority = u.priority, run_at = u.run_at,
        attempts = u.attempts, worker_id = u.worker_id, started_at = u.started_at,
        lease_expires_at = u.lease_expires_at, data = u.data
    FROM u
    WHERE t.id = u.id AND NOT u.final AND t.status = ANY (string_to_array(u.expect, ','))
      AND (u.expect_attempts IS NULL OR t.attempts = u.expect_attempts)
    RETURNING t.id
), gone AS (
    DELETE FROM omniq_tasks t USING u
    WHERE t.id = u.id AND u.final AND t.status = ANY (string_to_array(u.expect, ','))
      AND (u.expect_attempts IS NULL OR t.attempts = u.expect_attempts)
    RETURNING t.id
), moved AS (
    INSERT INTO omniq_tasks_done (id, queue, status, priority, run_at, attempts, worker_id,
                                  started_at, lease_expires_at, finished_at, data)
    SELECT u.id, u.queue, u.status, u.priority, u.run_at, u.attempts, u.worker_id,
           u.started_at, u.lease_expires_at, u.finished_at, u.data
    FROM u JOIN gone ON gone.id = u.id
    ON CONFLICT (id) DO UPDATE
    SET queue = excluded.queue, status = excluded.status, priority = excluded.priority,
        run_at = excluded.run_at, attempts = excluded.attempts, worker_id = excluded.worker_id,
        started_at = excluded.started_at, lease_expires_at = excluded.lease_expires_at,
        finished_at = excluded.finished_at, data = excluded.data
    RETURNING id
)
SELECT array(SELECT id FROM kept UNION ALL SELECT id FROM moved) AS ids,
       array(SELECT DISTINCT d.parent_id FROM omniq_task_deps d
             WHERE d.project = $17 AND d.parent_id IN (SELECT id FROM moved)) AS parents,
       (SELECT count(*) FROM (SELECT pg_notify($15, w) FROM unnest($16::text[]) AS w) n) AS woke,
       set_config('synchronous_commit', $18, true) AS commit_mode

-- name: update_done
-- The same fenced writes for tasks in omniq_tasks_done (a dead letter requeued): a task
-- going back to an unfinished status moves to omniq_tasks. ($17 is unused here.)
WITH u AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::int[],
                         $7::float8[], $8::int[], $9::text[], $10::float8[], $11::float8[],
                         $12::float8[], $13::bytea[], $14::bool[])
        AS u(id, status, expect, expect_attempts, queue, priority, run_at, attempts, worker_id,
             started_at, lease_expires_at, finished_at, data, final)
), kept AS (
    UPDATE omniq_tasks_done t
    SET status = u.status, queue = u.queue, priority = u.priority, run_at = u.run_at,
        attempts = u.attempts, worker_id = u.worker_id, started_at = u.started_at,
        lease_expires_at = u.lease_expires_at, finished_at = u.finished_at, data = u.data
    FROM u
    WHERE t.id = u.id AND u.final AND t.status = ANY (string_to_array(u.expect, ','))
      AND (u.expect_attempts IS NULL OR t.attempts = u.expect_attempts)
    RETURNING t.id
), gone AS (
    DELETE FROM omniq_tasks_done t USING u
    WHERE t.id = u.id AND NOT u.final AND t.status = ANY (string_to_array(u.expect, ','))
      AND (u.expect_attempts IS NULL OR t.attempts = u.expect_attempts)
    RETURNING t.id
), back AS (
    INSERT INTO omniq_tasks (id, queue, status, priority, run_at, attempts, worker_id,
                             started_at, lease_expires_at, data)
    SELECT u.id, u.queue, u.status, u.priority, u.run_at, u.attempts, u.worker_id,
           u.started_at, u.lease_expires_at, u.data
    FROM u JOIN gone ON gone.id = u.id
    ON CONFLICT (id) DO UPDATE
    SET queue = excluded.queue, status = excluded.status, priority = excluded.priority,
        run_at = excluded.run_at, attempts = excluded.attempts, worker_id = excluded.worker_id,
        started_at = excluded.started_at, lease_expires_at = excluded.lease_expires_at,
        data = excluded.data
    RETURNING id
)
SELECT array(SELECT id FROM kept UNION ALL SELECT id FROM back) AS ids,
       array(SELECT $17::text WHERE false) AS parents,
       (SELECT count(*) FROM (SELECT pg_notify($15, w) FROM unnest($16::text[]) AS w) n) AS woke,
       set_config('synchronous_commit', $18, true) AS commit_mode

-- name: already_written
-- Which of the writes ($1 ids, $2 data, $3 status, $4 attempts) the store already holds: a
-- write whose commit was not acknowledged (the connection dropped) and is then retried.
SELECT u.id FROM unnest($1::text[], $2::bytea[], $3::text[], $4::int[])
    AS u(id, data, status, attempts)
WHERE EXISTS (SELECT 1 FROM omniq_tasks t WHERE t.id = u.id AND t.data = u.data
              AND t.status = u.status AND t.attempts = u.attempts)
   OR EXISTS (SELECT 1 FROM omniq_tasks_done t WHERE t.id = u.id AND t.data = u.data
              AND t.status = u.status AND t.attempts = u.attempts)

-- name: get_task
SELECT data, status, attempts, worker_id, started_at, lease_expires_at, id
FROM omniq_tasks WHERE id = $1
UNION ALL
SELECT data, status, attempts, worker_id, started_at, lease_expires_at, id
FROM omniq_tasks_done WHERE id = $1

-- name: expired_leases
SELECT data, status, attempts, worker_id, started_at, lease_expires_at, id
FROM omniq_tasks WHERE status = 'running' AND lease_expires_at < $1
ORDER BY lease_expires_at LIMIT $2

-- name: dependents
SELECT data, status, attempts, worker_id, started_at, lease_expires_at, id FROM (
    SELECT t.* FROM omniq_task_deps d JOIN omniq_tasks t ON t.id = d.child_id
    WHERE d.project = $2 AND d.parent_id = $1
    UNION ALL
    SELECT t.id, t.queue, t.status, t.priority, t.run_at, t.attempts, t.worker_id,
           t.started_at, t.lease_expires_at, t.data
    FROM omniq_task_deps d JOIN omniq_tasks_done t ON t.id = d.child_id
    WHERE d.project = $2 AND d.parent_id = $1
) x ORDER BY id

-- name: delete_tasks
WITH a AS (DELETE FROM omniq_tasks WHERE id = ANY ($1::text[]) RETURNING id),
     b AS (DELETE FROM omniq_tasks_done WHERE id = ANY ($1::text[]) RETURNING id),
     i AS (DELETE FROM omniq_task_ids WHERE id = ANY ($1::text[])),
     d AS (DELETE FROM omniq_task_deps WHERE project = $2 AND (parent_id = ANY ($1::text[])
                                                             OR child_id = ANY ($1::text[])))
SELECT (SELECT count(*) FROM a) + (SELECT count(*) FROM b)

-- name: purge_finished
-- Remove tasks that finished before $1, and their dependency edges (project $2).
WITH b AS (DELETE FROM omniq_tasks_done WHERE finished_at < $1 RETURNING id),
     i AS (DELETE FROM omniq_task_ids WHERE id IN (SELECT id FROM b)),
     d AS (DELETE FROM omniq_task_deps WHERE project = $2 AND child_id IN (SELECT id FROM b))
SELECT count(*) FROM b

-- name: next_etas
-- The earliest future eta in each of the queues $1 (what an idle worker wakes up for).
SELECT queue, min(run_at) FROM omniq_tasks
WHERE queue = ANY ($1::text[]) AND status IN ('pending', 'retrying') AND run_at > $2
GROUP BY queue
