-- renew.lua: extend the lease of a running task, fenced by its attempt number.
--
-- KEYS[1]  the project's anchor key (routing only; see lib.lua)
-- ARGV[1]  key prefix
-- ARGV[2]  task id
-- ARGV[3]  the attempt the caller runs
-- ARGV[4]  new lease expiry, microseconds since the epoch
-- Touches  t:<id> (field l), running
-- Returns  nil when the task is not running under that attempt any more, else
--          { blob, worker id, started_at } (the last two "" when the blob holds them)
local key = P .. 't:' .. ARGV[2]
local cur = redis.call('HMGET', key, 's', 'a')
if cur[1] ~= 'running' or cur[2] ~= ARGV[3] then
  return false
end
redis.call('HSET', key, 'l', ARGV[4])
redis.call('ZADD', P .. 'running', ARGV[4], ARGV[2])
return redis.call('HMGET', key, 'd', 'w', 't')
