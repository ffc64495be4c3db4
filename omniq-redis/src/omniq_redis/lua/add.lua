-- add.lua: insert the tasks whose id is new (an existing id is left untouched: idempotent
-- enqueue), index them, queue the runnable ones and record each task under its parents.
--
-- KEYS[1]  the project's anchor key (routing only; see lib.lua)
-- ARGV[1]  key prefix
-- ARGV[2]  now, microseconds since the epoch (decides ready versus delayed)
-- ARGV[3]  number of tasks; then per task: id, status, attempts, queue, priority,
--          order member, lease expiry in us ("" unless running), msgpack blob,
--          number of parents n, and the n parent ids
-- Touches  t:<id>, x:* indexes, ready:/delayed:/wake:<queue>, running, ch:<parent>
-- Returns  per task 1 if inserted, 0 if the id already existed
local now = tonumber(ARGV[2])
local out = {}
local i = 4
for n = 1, tonumber(ARGV[3]) do
  local id, s, a, q, p, m, l, d = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3],
    ARGV[i + 4], ARGV[i + 5], ARGV[i + 6], ARGV[i + 7]
  local np = tonumber(ARGV[i + 8])
  local key = P .. 't:' .. id
  if redis.call('EXISTS', key) == 1 then
    out[n] = 0
  else
    redis.call('HSET', key, 'd', d, 's', s, 'a', a, 'q', q, 'p', p, 'm', m,
      'w', '', 't', '', 'l', '')
    redis.call('ZADD', P .. 'x:' .. q, 0, id)
    redis.call('ZADD', P .. 'x:*', 0, id)
    idx_add(q, s, id)
    if runnable(s) then
      enqueue(q, m, p, now)
    elseif s == 'running' and l ~= '' then
      redis.call('ZADD', P .. 'running', l, id)
    end
    for j = 1, np do
      redis.call('SADD', P .. 'ch:' .. ARGV[i + 8 + j], id)
    end
    out[n] = 1
  end
  i = i + 9 + np
end
return out
