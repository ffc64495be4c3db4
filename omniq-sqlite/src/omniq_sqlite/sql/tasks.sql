-- The task queue's statements (omniq_sqlite.queue), one per "-- name:" block; `?` are
-- parameters, `{...}` are filled in by omniq_sqlite._sql before use. They touch omniq_tasks
-- and omniq_task_deps. Every write sets `data` (the msgpack Task, the truth) together with
-- the columns copied from it; reads return `data` only.

-- name: insert_task
-- Parameters: task_row(). A task whose id exists is left as it is.
INSERT INTO omniq_tasks (queue, status, priority, run_at, lease_expires_at, attempts, data,
                         project, id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (project, id) DO NOTHING

-- name: insert_dep
-- Parameters: project, parent id, child id.
INSERT INTO omniq_task_deps (project, parent_id, child_id) VALUES (?, ?, ?)
ON CONFLICT (project, parent_id, child_id) DO NOTHING

-- name: get_task
SELECT data, id FROM omniq_tasks WHERE project = ? AND id = ?

-- name: update_task
-- A fenced write. Parameters: task_row() (the SET values, project, id), the expected
-- statuses ({statuses}: one `?` each), then the expected attempts when {attempts} is
-- filled with " AND attempts = ?".
UPDATE omniq_tasks SET queue = ?, status = ?, priority = ?, run_at = ?, lease_expires_at = ?,
                       attempts = ?, data = ?
WHERE project = ? AND id = ? AND status IN ({statuses}){attempts}

-- name: get_running
-- Parameters: project, id, attempts.
SELECT data, id FROM omniq_tasks WHERE project = ? AND id = ? AND status = 'running'
    AND attempts = ?

-- name: get_among
-- Parameters: project, then the ids ({ids}: one `?` each).
SELECT data, id FROM omniq_tasks WHERE project = ? AND id IN ({ids})

-- name: set_leases
-- New leases of running tasks read in the same transaction. Parameters: (id,
-- lease_expires_at, data) for each ({rows}), then project.
UPDATE omniq_tasks SET lease_expires_at = v.column2, data = v.column3
FROM (VALUES {rows}) AS v
WHERE omniq_tasks.project = ? AND omniq_tasks.id = v.column1

-- name: expired_leases
-- Parameters: project, now, limit.
SELECT data, id FROM omniq_tasks WHERE project = ? AND status = 'running'
    AND lease_expires_at < ? ORDER BY lease_expires_at LIMIT ?

-- name: dependents
-- Parameters: project, parent id.
SELECT t.data, t.id FROM omniq_task_deps d JOIN omniq_tasks t
    ON t.project = d.project AND t.id = d.child_id
WHERE d.project = ? AND d.parent_id = ? ORDER BY t.id

-- name: parents_among
-- Which of the ids ({ids}: one `?` each, after the project) have dependents.
SELECT DISTINCT parent_id FROM omniq_task_deps WHERE project = ? AND parent_id IN ({ids})

-- name: claim
-- Claim up to LIMIT runnable tasks of one queue, walking omniq_tasks_runnable in claim order.
-- Parameters: lease_expires_at, project, project, queue, now, limit. Literal statuses (not
-- parameters) let the planner use the partial index. The caller then rewrites `data` of the
-- returned rows (set_task_data) in the same transaction; the columns returned let a record
-- that cannot be decoded be handed out (and dead-lettered) like any other.
UPDATE omniq_tasks SET status = 'running', attempts = attempts + 1, lease_expires_at = ?
WHERE project = ? AND id IN (
    SELECT id FROM omniq_tasks
    WHERE project = ? AND queue = ? AND status IN ('pending', 'retrying') AND run_at <= ?
    ORDER BY priority DESC, run_at, id LIMIT ?)
RETURNING data, id, attempts, queue

-- name: set_task_data
-- Parameters: data, project, id.
UPDATE omniq_tasks SET data = ? WHERE project = ? AND id = ?

-- name: has_work
-- Is anything runnable now in this queue? (the cheap probe of an idle worker, and of a
-- claim before it takes the write lock). Parameters: project, queue, now.
SELECT 1 FROM omniq_tasks
WHERE project = ? AND queue = ? AND status IN ('pending', 'retrying') AND run_at <= ?
ORDER BY priority DESC, run_at, id LIMIT 1

-- name: list_tasks
-- {where}: "project = ?" and the filters given. Parameters: theirs, limit, offset.
SELECT data, id FROM omniq_tasks WHERE {where} ORDER BY id LIMIT ? OFFSET ?

-- name: count_tasks
SELECT COUNT(*) FROM omniq_tasks WHERE {where}

-- name: page_tasks
-- Keyset pagination. {where}: "project = ?", the queue and status filters given and, after
-- the first page, "id > ?" ("id < ?" newest first); {order}: "id" or "id DESC". Parameters:
-- theirs, limit. Served by omniq_tasks_queue_status / omniq_tasks_status / the primary key.
SELECT data, id FROM omniq_tasks WHERE {where} ORDER BY {order} LIMIT ?

-- name: task_counts
-- Tasks per queue and status (read from omniq_tasks_queue_status alone). Parameters: project.
SELECT queue, status, COUNT(*) FROM omniq_tasks WHERE project = ? GROUP BY queue, status

-- name: delete_tasks
-- Parameters: project, the ids ({ids}: one `?` each).
DELETE FROM omniq_tasks WHERE project = ? AND id IN ({ids})

-- name: delete_deps
-- The edges of deleted tasks. Parameters: project, the ids, the ids again.
DELETE FROM omniq_task_deps WHERE project = ? AND (child_id IN ({ids}) OR parent_id IN ({ids}))
