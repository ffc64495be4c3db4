-- sched_update.lua: compare-and-set a schedule on its version (two schedulers cannot both
-- advance it; a pause is never lost).
--
-- KEYS[1]  the project's anchor key (routing only; see lib.lua)
-- ARGV[1]  key prefix
-- ARGV[2]  schedule id
-- ARGV[3]  expected stored version
-- ARGV[4]  new version
-- ARGV[5]  next_run_at in us ("" = none)
-- ARGV[6]  status
-- ARGV[7]  msgpack blob
-- Touches  sc, scv, due (see sched_add.lua)
-- Returns  1 if written, 0 if missing or the version differs
local v = redis.call('HGET', P .. 'scv', ARGV[2])
if not v then
  return 0
end
if v ~= ARGV[3] then
  return 0
end
redis.call('HSET', P .. 'sc', ARGV[2], ARGV[7])
redis.call('HSET', P .. 'scv', ARGV[2], ARGV[4])
if ARGV[6] == 'active' and ARGV[5] ~= '' then
  redis.call('ZADD', P .. 'due', ARGV[5], ARGV[2])
else
  redis.call('ZREM', P .. 'due', ARGV[2])
end
return 1
