-- Shared helpers, prepended to every script. Time comes from the Redis server
-- so workers with skewed clocks agree on lease deadlines.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Ready-set score: higher job priority first, FIFO within a priority.
local function ready_score(prio, seq)
  return (9 - prio) * 1e13 + seq
end
local function requeue(ready, seqkey, enq, h, id)
  local prio = tonumber(redis.call('HGET', h, 'priority') or '5')
  local seq = redis.call('INCR', seqkey)
  redis.call('ZADD', ready, ready_score(prio, seq), id)
  redis.call('ZADD', enq, tonumber(redis.call('HGET', h, 'enqueued_at') or '0'), id)
end
-- Dead jobs an operator call names: the ids from ARGV[2..], or, with none,
-- every dead job up to 1000 per call.
local function selected_dead(dead)
  if #ARGV >= 2 then
    local ids = {}
    for i = 2, #ARGV do table.insert(ids, ARGV[i]) end
    return ids
  end
  return redis.call('ZRANGE', dead, 0, 999)
end
