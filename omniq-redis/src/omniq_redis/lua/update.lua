-- update.lua: compare-and-set a batch of tasks. Each task is replaced only if its stored
-- status is one of the expected ones and (when given) its stored attempts equal the
-- expected attempt: the fencing point that refuses a late worker's write. A fenced write
-- whose blob is already the stored one (a call retried after a lost reply) counts as done.
--
-- KEYS[1]  the project's anchor key (routing only; see lib.lua)
-- ARGV[1]  key prefix
-- ARGV[2]  now, microseconds since the epoch (decides ready versus delayed)
-- ARGV[3]  msgpack array with one entry per task: {id, expected statuses (comma
--          separated), expected attempts ("" = any), status, attempts, queue, priority,
--          order member, lease expiry in us as a string ("" unless running), length of
--          its blob}
-- ARGV[4]  the tasks' new msgpack blobs, concatenated in the same order
-- Touches  t:<id>, x:* indexes, queues, ready:/delayed:/wake:<queue>, running; reads ch:<id>
-- Returns  a string with one digit per task: 0 = missing or condition failed (nothing
--          written), 1 = written, 2 = written and other tasks depend on it
local now = tonumber(ARGV[2])
local out = {}
local at = 1
for n, u in ipairs(cmsgpack.unpack(ARGV[3])) do
  local id, es, ea, s, a, q, p, m, l = u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9]
  local d = string.sub(ARGV[4], at, at + u[10] - 1)
  at = at + u[10]
  local key = P .. 't:' .. id
  local cur = redis.call('HMGET', key, 's', 'a', 'q', 'm', 'd')
  local ok = 0
  if cur[1] then
    if ea ~= '' and cur[5] == d then
      -- The holder of this attempt wrote exactly this before: a call retried after its
      -- reply was lost. (Unfenced writes get no such pass: two clients may compute the
      -- same blob, and only one of them may win.)
      ok = 1
    elseif string.find(',' .. es .. ',', ',' .. cur[1] .. ',', 1, true)
        and (ea == '' or ea == cur[2]) then
      if cur[3] ~= q then
        redis.call('ZREM', P .. 'x:' .. cur[3], id)
        redis.call('ZADD', P .. 'x:' .. q, 0, id)
        redis.call('SADD', P .. 'queues', q)
      end
      if cur[1] ~= s or cur[3] ~= q then
        idx_del(cur[3], cur[1], id)
        idx_add(q, s, id)
      end
      dequeue(cur[3], cur[4], id)
      redis.call('HSET', key, 'd', d, 's', s, 'a', a, 'q', q, 'p', p, 'm', m,
        'w', '', 't', '', 'l', '')
      if runnable(s) then
        enqueue(q, m, p, now)
      elseif s == 'running' and l ~= '' then
        redis.call('ZADD', P .. 'running', l, id)
      end
      ok = 1
    end
    if ok == 1 and redis.call('EXISTS', P .. 'ch:' .. id) == 1 then
      ok = 2
    end
  end
  out[n] = ok
end
return table.concat(out)
