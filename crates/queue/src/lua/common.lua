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
-- Whether `token` names the current lease of the job in hash `h`. Every
-- change a holder makes is fenced by it: a worker that lost its lease (a
-- stall longer than the lease) is told 'stale' and changes nothing.
local function holds(h, token)
  return token ~= '' and redis.call('HGET', h, 'token') == token
end
local STALE = -2
local function stale(stats)
  redis.call('HINCRBY', stats, 'stale', 1)
  return STALE
end
-- Forget a settled job and count its outcome and run time (ms < 0: unknown).
local function settle_job(leased, enq, stats, h, id, outcome, ms)
  redis.call('ZREM', leased, id)
  redis.call('ZREM', enq, id)
  redis.call('DEL', h)
  redis.call('HINCRBY', stats, outcome, 1)
  if ms >= 0 then
    local avg = tonumber(redis.call('HGET', stats, 'service_ms_ewma') or '-1')
    if avg < 0 then avg = ms else avg = avg * 0.9 + ms * 0.1 end
    redis.call('HSET', stats, 'service_ms_ewma', tostring(avg))
  end
end
