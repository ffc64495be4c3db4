-- delete.lua: remove tasks with every index entry they have and their dependents set.
--
-- KEYS[1]  the project's anchor key (routing only; see lib.lua)
-- ARGV[1]  key prefix
-- ARGV[2..] task ids
-- Touches  t:<id>, ch:<id>, ready:/delayed:<queue>, running, x:* indexes
-- Returns  how many of the tasks existed
local removed = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local key = P .. 't:' .. id
  local cur = redis.call('HMGET', key, 's', 'q', 'm')
  if cur[1] then
    dequeue(cur[2], cur[3], id)
    idx_del(cur[2], cur[1], id)
    redis.call('ZREM', P .. 'x:' .. cur[2], id)
    redis.call('ZREM', P .. 'x:*', id)
    redis.call('DEL', key, P .. 'ch:' .. id)
    removed = removed + 1
  end
end
return removed
