-- A run failed with a transient error: schedule the next attempt after a
-- delay, or move the job to the dead set when its attempts are used up.
-- Only the current holder may.
-- KEYS: 1 leased, 2 delayed, 3 dead, 4 enq, 5 stats, 6 job hash
-- ARGV: 1 id, 2 delay_ms, 3 error text, 4 token
-- Returns 1 scheduled, 0 dead, -2 stale.
if not holds(KEYS[6], ARGV[4]) then
  return stale(KEYS[5])
end
local now = now_ms()
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[6], 'last_error', ARGV[3])
redis.call('HDEL', KEYS[6], 'token', 'worker')
local attempts = tonumber(redis.call('HGET', KEYS[6], 'attempts'))
local max = tonumber(redis.call('HGET', KEYS[6], 'max_attempts'))
if attempts >= max then
  redis.call('ZADD', KEYS[3], now, ARGV[1])
  redis.call('ZREM', KEYS[4], ARGV[1])
  redis.call('HINCRBY', KEYS[5], 'dead', 1)
  return 0
end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZADD', KEYS[4], tonumber(redis.call('HGET', KEYS[6], 'enqueued_at')), ARGV[1])
redis.call('HINCRBY', KEYS[5], 'retried', 1)
return 1
