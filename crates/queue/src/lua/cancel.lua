-- Cancel a job: a waiting one leaves the queue now; a running one is flagged
-- and its handler stops at its next progress report.
-- KEYS: 1 ready, 2 delayed, 3 leased, 4 enq, 5 stats, 6 job hash
-- ARGV: 1 id
-- Returns 'removed', 'flagged' or 'unknown'.
local id = ARGV[1]
if redis.call('ZREM', KEYS[1], id) == 1 or redis.call('ZREM', KEYS[2], id) == 1 then
  redis.call('ZREM', KEYS[4], id)
  redis.call('DEL', KEYS[6])
  redis.call('HINCRBY', KEYS[5], 'cancelled', 1)
  return 'removed'
end
if redis.call('ZSCORE', KEYS[3], id) then
  redis.call('HSET', KEYS[6], 'cancel', 1)
  return 'flagged'
end
return 'unknown'
