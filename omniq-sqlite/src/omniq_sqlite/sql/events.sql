-- The event store's statements (omniq_sqlite.events). They touch omniq_events only; `body`
-- holds the event as JSON (never pickled).

-- name: insert_event
-- Parameters: project, id, type, ts, task id, schedule id, body. An event whose id exists
-- is left as it is.
INSERT INTO omniq_events (project, id, type, ts, task_id, schedule_id, body)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (project, id) DO NOTHING

-- name: select_events
-- {where}: "project = ?" and the filters given. Parameters: theirs, limit.
SELECT body FROM omniq_events WHERE {where} ORDER BY ts, id LIMIT ?

-- name: purge_events
-- Parameters: project, before.
DELETE FROM omniq_events WHERE project = ? AND ts < ?
