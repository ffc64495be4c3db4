-- add.lua: insert the tasks whose id is new (an existing id is left untouched: idempotent
-- enqueue), index them, queue the runnable ones and record each task under its parents.
--
-- KEYS[1]  the project's anchor key (routing only; see lib.lua)
-- ARGV[1]  key prefix
-- ARGV[2]  now, microseconds since the epoch (decides ready versus delayed)
-- ARGV[3]  msgpack array with one entry per task: {id, status, attempts, queue, priority,
--          order member, lease expiry in us as a string ("" unless running),
--          {parent ids}, length of its blob}
-- ARGV[4]  the tasks' msgpack blobs, concatenated in the same order
-- Touches  t:<id>, x:* indexes, queues, ready:/delayed:/wake:<queue>, running, ch:<parent>
-- Returns  a string with one digit per task: 1 if inserted, 0 if the id already existed
--
-- The sorted-set entries of the whole batch are gathered per key and added with one ZADD per
-- key at the end (a command per task per index is most of the cost of a bulk add); nothing
-- can observe the difference, since a script runs as one step.
local now = tonumber(ARGV[2])
local tasks = cmsgpack.unpack(ARGV[3])
local out = {}
local at = 1
local zsets, keys, woken, named = {}, {}, {}, {}
local alone = #tasks == 1  -- nothing to gather: each entry is added at once

local function zadd(key, score, member)
  if alone then
    redis.call('ZADD', key, score, member)
    return
  end
  local entries = zsets[key]
  if entries == nil then
    entries = {}
    zsets[key] = entries
    keys[#keys + 1] = key
  end
  entries[#entries + 1] = score
  entries[#entries + 1] = member
end

for n, t in ipairs(tasks) do
  local id, s, a, q, p, m, l, parents = t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8]
  local d = string.sub(ARGV[4], at, at + t[9] - 1)
  at = at + t[9]
  local key = P .. 't:' .. id
  if redis.call('EXISTS', key) == 1 then
    out[n] = 0
  else
    redis.call('HSET', key, 'd', d, 's', s, 'a', a, 'q', q, 'p', p, 'm', m,
      'w', '', 't', '', 'l', '')
    zadd(P .. 'x:' .. q, 0, id)
    zadd(P .. 'x:*', 0, id)
    zadd(P .. 'x:' .. q .. ':' .. s, 0, id)
    zadd(P .. 'x:*:' .. s, 0, id)
    named[q] = true
    if runnable(s) then
      local where, score = placement(q, m, p, now)
      zadd(where, score, m)
      woken[q] = true
    elseif s == 'running' and l ~= '' then
      zadd(P .. 'running', l, id)
    end
    for _, parent in ipairs(parents) do
      redis.call('SADD', P .. 'ch:' .. parent, id)
    end
    out[n] = 1
  end
end

for _, key in ipairs(keys) do
  local entries = zsets[key]
  for i = 1, #entries, 1000 do  -- bounded: unpack puts every value on Lua's stack
    redis.call('ZADD', key, unpack(entries, i, math.min(i + 999, #entries)))
  end
end
for q in pairs(named) do
  redis.call('SADD', P .. 'queues', q)
end
for q in pairs(woken) do
  wake(q)
end
return table.concat(out)
