-- A run could not proceed because infrastructure (database, object storage)
-- is unreachable: put the job back after a growing delay WITHOUT spending an
-- attempt, so an outage never turns healthy jobs into dead ones. Only the
-- current holder may (it gives back its own attempt).
-- KEYS: 1 leased, 2 delayed, 3 enq, 4 stats, 5 job hash
-- ARGV: 1 id, 2 base delay ms, 3 max delay ms, 4 error text, 5 token
-- Returns the delay in ms, or -2 stale.
if not holds(KEYS[5], ARGV[5]) then
  return stale(KEYS[4])
end
local now = now_ms()
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[5], 'token', 'worker')
local attempts = tonumber(redis.call('HGET', KEYS[5], 'attempts'))
if attempts > 0 then
  redis.call('HSET', KEYS[5], 'attempts', attempts - 1)
end
local deferrals = redis.call('HINCRBY', KEYS[5], 'deferrals', 1)
redis.call('HSET', KEYS[5], 'last_error', ARGV[4])
local delay = math.min(tonumber(ARGV[3]), tonumber(ARGV[2]) * 2 ^ math.min(deferrals - 1, 20))
redis.call('ZADD', KEYS[2], now + delay, ARGV[1])
redis.call('ZADD', KEYS[3], tonumber(redis.call('HGET', KEYS[5], 'enqueued_at')), ARGV[1])
redis.call('HINCRBY', KEYS[4], 'deferred', 1)
return delay
