-- Version 3 of the "tasks" component: adds omniq_task_ids, the id of every task the schema
-- holds, in omniq_tasks or omniq_tasks_done. add_tasks inserts there first: its primary key is
-- the one place where two enqueues of one id meet, and where an enqueue meets the completion
-- that moves that id from omniq_tasks to omniq_tasks_done. Checking the two tables instead left
-- a gap: a completion committing between the check and the insert let the id in a second time,
-- and the task ran again. Ids leave with their task (delete_tasks, purge_finished). Run by the
-- migration of the "tasks" component (omniq_postgres._engine) in one transaction with its
-- version row. A shipped version is never edited: a change is a new tasks_v4.sql.

CREATE TABLE IF NOT EXISTS omniq_task_ids (
    id text PRIMARY KEY
);

INSERT INTO omniq_task_ids (id)
SELECT id FROM omniq_tasks UNION SELECT id FROM omniq_tasks_done
ON CONFLICT DO NOTHING;
