-- put.lua: store a batch of results, each with its own expiry, index those of schedules,
-- and announce the batch on the project's "done" channel (wakes get_result waiters).
--
-- KEYS[1]  the project's anchor key (routing only; see lib.lua)
-- ARGV[1]  key prefix
-- ARGV[2]  what to announce on P.."done": "" nothing, "ids" the task ids, "blobs" the ids
--          with their blobs (a waiter then needs no further round trip)
-- ARGV[3]  msgpack array with one entry per result: {task id, ttl in ms (0 = keep,
--          -1 = already expired: delete), schedule id or "", finished_at in us as a
--          string, length of its blob[, status, attempt]}; with a status and attempt the
--          result is written only if its task's stored status and attempt are those (the
--          finish it belongs to landed: sent behind that finish, in the same pipeline)
-- ARGV[4]  the results' blobs, concatenated in the same order
-- Touches  r:<task id> (string with PX expiry), rs:<schedule id> (zset by finished_at);
--          reads t:<task id> when guarded
-- Announces "<task id> <blob length or ->\n<blob>" per result written and kept
-- Returns  the number of results written
local items = cmsgpack.unpack(ARGV[3])
local mode = ARGV[2]
local announce = {}
local written = 0
local at = 1
for _, it in ipairs(items) do
  local blob = string.sub(ARGV[4], at, at + it[5] - 1)
  at = at + it[5]
  local landed = true
  if it[6] then
    local cur = redis.call('HMGET', P .. 't:' .. it[1], 's', 'a')
    landed = cur[1] == it[6] and cur[2] == it[7]
  end
  if landed then
    written = written + 1
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
      if mode == 'blobs' then
        announce[#announce + 1] = it[1] .. ' ' .. #blob .. '\n' .. blob
      elseif mode == 'ids' then
        announce[#announce + 1] = it[1] .. ' -\n'
      end
    end
  end
end
if #announce > 0 then
  redis.call('PUBLISH', P .. 'done', table.concat(announce))
end
return written
