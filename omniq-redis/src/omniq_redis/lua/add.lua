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
local now = tonumber(ARGV[2])
local out = {}
local at = 1
for n, t in ipairs(cmsgpack.unpack(ARGV[3])) do
  local id, s, a, q, p, m, l, parents = t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8]
  local d = string.sub(ARGV[4], at, at + t[9] - 1)
  at = at + t[9]
  local key = P .. 't:' .. id
  if redis.call('EXISTS', key) == 1 then
    out[n] = 0
  else
    redis.call('HSET', key, 'd', d, 's', s, 'a', a, 'q', q, 'p', p, 'm', m,
      'w', '', 't', '', 'l', '')
    redis.call('ZADD', P .. 'x:' .. q, 0, id)
    redis.call('ZADD', P .. 'x:*', 0, id)
    redis.call('SADD', P .. 'queues', q)
    idx_add(q, s, id)
    if runnable(s) then
      enqueue(q, m, p, now)
    elseif s == 'running' and l ~= '' then
      redis.call('ZADD', P .. 'running', l, id)
    end
    for _, parent in ipairs(parents) do
      redis.call('SADD', P .. 'ch:' .. parent, id)
    end
    out[n] = 1
  end
end
return table.concat(out)
