-- The event store's statements (omniq_postgres.events), one per "-- name:" block. They touch
-- omniq_events only, qualified with the project's schema when loaded; body holds the event as
-- JSON (never pickled).

-- name: insert_event
-- $1 project, $2 id, $3 type, $4 ts, $5 task_id, $6 schedule_id, $7 body. An existing id is
-- kept.
INSERT INTO omniq_events (project, id, type, ts, task_id, schedule_id, body)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (project, id) DO NOTHING

-- name: select_events
-- {where}: "project = $1" and the filters given; {limit}: the last parameter.
SELECT body FROM omniq_events WHERE {where} ORDER BY ts, id LIMIT {limit}

-- name: purge_events
-- Events of project $1 older than $2.
DELETE FROM omniq_events WHERE project = $1 AND ts < $2
