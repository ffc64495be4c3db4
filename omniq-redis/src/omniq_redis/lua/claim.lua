-- claim.lua: lease up to `limit` runnable tasks to one worker, atomically.
-- Queues are served in the order given; within a queue by priority (high first), then
-- eta, then id (FIFO). Due tasks of the delayed set are moved to the ready set first (at
-- most 1000 per queue and call, so one call never blocks the server for long).
--
-- KEYS[1]  the project's anchor key (routing only; see lib.lua)
-- ARGV[1]  key prefix
-- ARGV[2]  now, microseconds since the epoch, or "" for the server's clock (a claim sent
--          behind a blocking wait runs later than it was sent)
-- ARGV[3]  lease expiry, microseconds since the epoch; with the server's clock, the lease
--          length in microseconds
-- ARGV[4]  worker id
-- ARGV[5]  limit
-- ARGV[6..] queue names, highest priority first
-- Touches  ready:/delayed:/wake:<queue>, t:<id>, running, x:* indexes
-- Returns  one string (cheap to read back, however many tasks): the earliest delayed
--          eta in us or "" (given only when fewer than `limit` were found, for the
--          worker's wait), a space, the now used, a newline, then per claimed task
--          "<attempt> <blob length> <queue> <id>\n" followed by the blob (the id and queue
--          let a record that cannot be decoded be handed out, and dead-lettered, like any)
local nows, lease, worker = ARGV[2], ARGV[3], ARGV[4]
if nows == '' then
  local t = redis.call('TIME')
  nows = t[1] .. string.format('%06d', tonumber(t[2]))
  lease = string.format('%.0f', tonumber(nows) + tonumber(lease))
end
local now, limit = tonumber(nows), tonumber(ARGV[5])
local out = {''}
local n = 0
for qi = 6, #ARGV do
  if n >= limit then
    break
  end
  local q = ARGV[qi]
  local ready, delayed = P .. 'ready:' .. q, P .. 'delayed:' .. q
  local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', nows, 'LIMIT', 0, 1000)
  if #due > 0 then
    for _, m in ipairs(due) do
      local p = redis.call('HGET', P .. 't:' .. string.sub(m, 19), 'p')
      if p then
        redis.call('ZADD', ready, 0 - tonumber(p), m)
      end
    end
    redis.call('ZREM', delayed, unpack(due))
  end
  while n < limit do
    local got = redis.call('ZPOPMIN', ready, limit - n)
    if #got == 0 then
      break
    end
    for j = 1, #got, 2 do
      local m = got[j]
      local eta = tonumber(string.sub(m, 1, 17))
      if eta > now then
        -- Promoted under a later clock than this caller's: not runnable for it yet.
        redis.call('ZADD', delayed, eta, m)
      else
        local id = string.sub(m, 19)
        local key = P .. 't:' .. id
        local cur = redis.call('HMGET', key, 's', 'a', 'd')
        if cur[1] and runnable(cur[1]) then
          local a = tonumber(cur[2]) + 1
          redis.call('HSET', key, 's', 'running', 'a', a, 'w', worker, 't', nows, 'l', lease)
          redis.call('ZADD', P .. 'running', lease, id)
          idx_del(q, cur[1], id)
          idx_add(q, 'running', id)
          out[#out + 1] = a .. ' ' .. #cur[3] .. ' ' .. q .. ' ' .. id .. '\n' .. cur[3]
          n = n + 1
        end
      end
    end
  end
end
if n < limit then
  local best = nil
  for qi = 6, #ARGV do
    local first = redis.call('ZRANGE', P .. 'delayed:' .. ARGV[qi], 0, 0, 'WITHSCORES')
    if first[2] and (best == nil or tonumber(first[2]) < tonumber(best)) then
      best = first[2]
    end
  end
  out[1] = (best or '') .. ' ' .. nows .. '\n'
else
  -- This worker is full and work is left: pass the wake-up on to another idle worker.
  for qi = 6, #ARGV do
    if redis.call('ZCARD', P .. 'ready:' .. ARGV[qi]) > 0 then
      wake(ARGV[qi])
      break
    end
  end
  out[1] = ' ' .. nows .. '\n'
end
return table.concat(out)
