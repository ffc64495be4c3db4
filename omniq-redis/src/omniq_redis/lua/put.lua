-- put.lua: store a batch of results, each with its own expiry, index those of schedules,
-- and announce the batch on the project's "done" channel (wakes get_result waiters).
--
-- KEYS[1]  the project's anchor key (routing only; see lib.lua)
-- ARGV[1]  key prefix
-- ARGV[2]  the announcement to publish on P.."done" ("" = none)
-- ARGV[3]  msgpack array with one entry per result: {task id, ttl in ms (0 = keep,
--          -1 = already expired: delete), schedule id or "", finished_at in us as a
--          string, length of its blob}
-- ARGV[4]  the results' blobs, concatenated in the same order
-- Touches  r:<task id> (string with PX expiry), rs:<schedule id> (zset by finished_at)
-- Returns  the number of results handled
local items = cmsgpack.unpack(ARGV[3])
local at = 1
for _, it in ipairs(items) do
  local blob = string.sub(ARGV[4], at, at + it[5] - 1)
  at = at + it[5]
  local key = P .. 'r:' .. it[1]
  if it[2] < 0 then
    redis.call('DEL', key)
  else
    if it[2] > 0 then
      redis.call('SET', key, blob, 'PX', it[2])
    else
      redis.call('SET', key, blob)
    end
    if it[3] ~= '' then
      redis.call('ZADD', P .. 'rs:' .. it[3], it[4], it[1])
    end
  end
end
if ARGV[2] ~= '' then
  redis.call('PUBLISH', P .. 'done', ARGV[2])
end
return #items
