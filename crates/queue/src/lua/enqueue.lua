-- KEYS: 1 ready, 2 seq, 3 enq, 4 stats, 5 job hash
-- ARGV: 1 id, 2 payload, 3 max_attempts, 4 priority (0-9), 5 wake channel,
--       6 attempts already spent (0 for a new job; the reconciler passes the
--       row's count when it re-pushes a job Redis lost)
-- Returns 1 when queued, 0 when a job with this id is already in the queue.
if redis.call('EXISTS', KEYS[5]) == 1 then
  return 0
end
local now = now_ms()
redis.call('HSET', KEYS[5], 'payload', ARGV[2], 'attempts', tonumber(ARGV[6] or '0'),
  'max_attempts', ARGV[3], 'priority', ARGV[4], 'enqueued_at', now)
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], ready_score(tonumber(ARGV[4]), seq), ARGV[1])
redis.call('ZADD', KEYS[3], now, ARGV[1])
redis.call('HINCRBY', KEYS[4], 'enqueued', 1)
-- Idle consumers subscribed to the channel stop waiting.
redis.call('PUBLISH', ARGV[5], 1)
return 1
