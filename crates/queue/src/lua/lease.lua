-- KEYS: 1 ready, 2 delayed, 3 leased, 4 dead, 5 enq, 6 stats, 7 seq
-- ARGV: 1 lease_ms, 2 max jobs, 3 worker, 4 job-hash key prefix, 5 paused flag key
-- Returns { leased = {{id, payload, attempt, max_attempts}...},
--           dead = {{id, payload, attempts}...} }
-- Work per call is bounded (at most 200 promotions and reclaims), so a backlog
-- of any size never builds an oversized reply.
local now = now_ms()
local lease_ms = tonumber(ARGV[1])
local jp = ARGV[4]

local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 200)
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[2], id)
  requeue(KEYS[1], KEYS[7], KEYS[5], jp .. id, id)
end

local dead = {}
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 200)
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[3], id)
  local h = jp .. id
  if redis.call('EXISTS', h) == 1 then
    local attempts = tonumber(redis.call('HGET', h, 'attempts'))
    local max = tonumber(redis.call('HGET', h, 'max_attempts'))
    if attempts >= max then
      redis.call('HSET', h, 'last_error', 'worker.lost: the worker stopped renewing its lease')
      redis.call('ZADD', KEYS[4], now, id)
      redis.call('HINCRBY', KEYS[6], 'dead', 1)
      table.insert(dead, {id, redis.call('HGET', h, 'payload'), attempts})
    else
      redis.call('HINCRBY', KEYS[6], 'lease_expired', 1)
      requeue(KEYS[1], KEYS[7], KEYS[5], h, id)
    end
  end
end

local leased = {}
if redis.call('EXISTS', ARGV[5]) == 0 then
  local popped = redis.call('ZPOPMIN', KEYS[1], tonumber(ARGV[2]))
  for i = 1, #popped, 2 do
    local id = popped[i]
    local h = jp .. id
    redis.call('ZREM', KEYS[5], id)
    if redis.call('EXISTS', h) == 1 then
      local attempt = redis.call('HINCRBY', h, 'attempts', 1)
      redis.call('HSET', h, 'worker', ARGV[3], 'leased_at', now)
      redis.call('ZADD', KEYS[3], now + lease_ms, id)
      table.insert(leased, {id, redis.call('HGET', h, 'payload'), attempt,
        tonumber(redis.call('HGET', h, 'max_attempts'))})
    end
  end
end
return {leased, dead}
