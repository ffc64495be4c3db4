-- sched_add.lua: insert a schedule if its id is new.
--
-- KEYS[1]  the project's anchor key (routing only; see lib.lua)
-- ARGV[1]  key prefix
-- ARGV[2]  schedule id
-- ARGV[3]  version
-- ARGV[4]  next_run_at in us ("" = none)
-- ARGV[5]  status
-- ARGV[6]  msgpack blob
-- Touches  sc (hash id -> blob), scv (hash id -> version), due (zset by next_run_at,
--          active schedules only)
-- Returns  1 if inserted, 0 if the id existed
if redis.call('HSETNX', P .. 'sc', ARGV[2], ARGV[6]) == 0 then
  return 0
end
redis.call('HSET', P .. 'scv', ARGV[2], ARGV[3])
if ARGV[5] == 'active' and ARGV[4] ~= '' then
  redis.call('ZADD', P .. 'due', ARGV[4], ARGV[2])
end
return 1
