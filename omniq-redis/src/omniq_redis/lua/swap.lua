-- swap.lua: compare-and-set of a running attempt's blob. It becomes ARGV[5] only if it is
-- still ARGV[4], the one the caller read and changed: no write landing in between is lost
-- (a cancel request, say). The fields a claim or renewal set (w, t, l) stay as they are.
--
-- KEYS[1]  the project's anchor key (routing only; see lib.lua)
-- ARGV[1]  key prefix
-- ARGV[2]  task id
-- ARGV[3]  the attempt the caller runs
-- ARGV[4]  the blob as the caller read it
-- ARGV[5]  the new blob
-- Touches  t:<id> (field d)
-- Returns  1 written; 0 the blob changed meanwhile (read again); -1 that attempt is not
--          running any more
local key = P .. 't:' .. ARGV[2]
local cur = redis.call('HMGET', key, 's', 'a', 'd')
if cur[1] ~= 'running' or cur[2] ~= ARGV[3] then
  return -1
end
if cur[3] ~= ARGV[4] then
  return 0
end
redis.call('HSET', key, 'd', ARGV[5])
return 1
