-- lib.lua: helpers that OmniQ puts in front of every script below (not a script itself).
--
-- Every script gets ARGV[1] = the project's key prefix "omniq:{project}:" and KEYS[1] = the
-- project's anchor key (prefix .. "anchor"), which only routes the call: in a Redis Cluster
-- the "{project}" hash tag puts every key of the project in the anchor's slot, so a script
-- may build the other key names from the prefix.
--
-- Keys (after the prefix):
--   t:<id>            hash of one task: d = msgpack Task as last written by OmniQ,
--                     s = status, a = attempts, q = queue, p = priority,
--                     m = order member "<eta in us, 17 digits>|<id>",
--                     w / t / l = worker id, started_at and lease expiry (us) set by a
--                     claim or a lease renewal; "" = the values in d hold
--   ready:<queue>     zset, runnable tasks: score -priority, member m (ties: eta, then id)
--   delayed:<queue>   zset, tasks whose eta is ahead: score eta, member m
--   wake:<queue>      list holding at most one token; idle workers BLPOP it
--   running           zset, claimed tasks by lease expiry
--   x:<queue>:<status>, x:*:<status>, x:<queue>, x:*
--                     zsets with score 0 (so ordered by id): the listing and count indexes
--   queues            set of every queue name a task was stored under (for counts per queue)
--   ch:<id>           set of the ids of the tasks that depend on task <id>
--   workers           hash of the worker registry: worker id -> msgpack WorkerInfo (written
--                     by plain HSET / HDEL from Python; no script touches it)
local P = ARGV[1]

local function idx_add(q, s, id)
  redis.call('ZADD', P .. 'x:' .. q .. ':' .. s, 0, id)
  redis.call('ZADD', P .. 'x:*:' .. s, 0, id)
end

local function idx_del(q, s, id)
  redis.call('ZREM', P .. 'x:' .. q .. ':' .. s, id)
  redis.call('ZREM', P .. 'x:*:' .. s, id)
end

local function runnable(s)
  return s == 'pending' or s == 'retrying'
end

local function wake(q)
  local key = P .. 'wake:' .. q
  if redis.call('LLEN', key) == 0 then
    redis.call('RPUSH', key, '1')
  end
end

-- A runnable task goes to its queue's ready set when its eta has come, else to the
-- delayed set (a claim moves it over when due): the set and the score, for member m.
local function placement(q, m, p, now)
  local eta = tonumber(string.sub(m, 1, 17))
  if eta <= now then
    return P .. 'ready:' .. q, 0 - tonumber(p)
  end
  return P .. 'delayed:' .. q, eta
end

-- Queue a runnable task and wake an idle worker.
local function enqueue(q, m, p, now)
  local key, score = placement(q, m, p, now)
  redis.call('ZADD', key, score, m)
  wake(q)
end

local function dequeue(q, m, id)
  redis.call('ZREM', P .. 'ready:' .. q, m)
  redis.call('ZREM', P .. 'delayed:' .. q, m)
  redis.call('ZREM', P .. 'running', id)
end
