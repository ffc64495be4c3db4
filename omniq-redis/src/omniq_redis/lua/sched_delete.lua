-- sched_delete.lua: remove a schedule.
--
-- KEYS[1]  the project's anchor key (routing only; see lib.lua)
-- ARGV[1]  key prefix
-- ARGV[2]  schedule id
-- Touches  sc, scv, due (see sched_add.lua)
-- Returns  1 if it existed, else 0
local existed = redis.call('HDEL', P .. 'sc', ARGV[2])
redis.call('HDEL', P .. 'scv', ARGV[2])
redis.call('ZREM', P .. 'due', ARGV[2])
return existed
