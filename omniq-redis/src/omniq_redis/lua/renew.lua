-- renew.lua: extend the lease of a running task, fenced by its attempt number. A lease is
-- only ever pushed forward: a renewal computed before the task extended its own lease (a
-- heartbeat racing the task) cannot cut that extension short.
--
-- KEYS[1]  the project's anchor key (routing only; see lib.lua)
-- ARGV[1]  key prefix
-- ARGV[2]  task id
-- ARGV[3]  the attempt the caller runs
-- ARGV[4]  wanted lease expiry, microseconds since the epoch
-- Touches  t:<id> (field l), running
-- Returns  nil when the task is not running under that attempt any more, else
--          { blob, worker id, started_at, lease expiry now in force } (worker id and
--          started_at "" when the blob holds them)
local key = P .. 't:' .. ARGV[2]
local cur = redis.call('HMGET', key, 's', 'a')
if cur[1] ~= 'running' or cur[2] ~= ARGV[3] then
  return false
end
local lease = ARGV[4]
local held = redis.call('ZSCORE', P .. 'running', ARGV[2])
if held and tonumber(held) > tonumber(lease) then
  lease = held
end
redis.call('HSET', key, 'l', lease)
redis.call('ZADD', P .. 'running', lease, ARGV[2])
local row = redis.call('HMGET', key, 'd', 'w', 't')
row[4] = lease
return row
