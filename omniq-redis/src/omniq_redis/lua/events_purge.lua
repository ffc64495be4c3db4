-- events_purge.lua: remove up to a batch of events older than a time (retention), with
-- their index entries. Call again until it returns less than the batch size.
--
-- KEYS[1]  the project's anchor key (routing only; see lib.lua)
-- ARGV[1]  key prefix
-- ARGV[2]  cut-off, microseconds since the epoch (events strictly before it go)
-- ARGV[3]  batch size
-- Touches  ev (hash id -> JSON event), ev:t (zset by time), ev:task:<task id>,
--          ev:sch:<schedule id>, ev:type:<type>
-- Returns  how many events were removed
local ids = redis.call('ZRANGEBYSCORE', P .. 'ev:t', '-inf', '(' .. ARGV[2], 'LIMIT', 0,
  tonumber(ARGV[3]))
if #ids == 0 then
  return 0
end
for _, id in ipairs(ids) do
  local raw = redis.call('HGET', P .. 'ev', id)
  if raw then
    local e = cjson.decode(raw)
    if type(e.task_id) == 'string' then
      redis.call('ZREM', P .. 'ev:task:' .. e.task_id, id)
    end
    if type(e.schedule_id) == 'string' then
      redis.call('ZREM', P .. 'ev:sch:' .. e.schedule_id, id)
    end
    if type(e.type) == 'string' then
      redis.call('ZREM', P .. 'ev:type:' .. e.type, id)
    end
  end
end
redis.call('ZREM', P .. 'ev:t', unpack(ids))
redis.call('HDEL', P .. 'ev', unpack(ids))
return #ids
