-- Ends a leased job: completed (ack) or failed for good (abort), and folds
-- its run time into the queue's service-time average.
-- KEYS: 1 leased, 2 enq, 3 stats, 4 job hash
-- ARGV: 1 id, 2 stats field ('completed' or 'failed'), 3 run time ms (-1: unknown)
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
local existed = redis.call('DEL', KEYS[4])
redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
local ms = tonumber(ARGV[3])
if ms >= 0 then
  local avg = tonumber(redis.call('HGET', KEYS[3], 'service_ms_ewma') or '-1')
  if avg < 0 then avg = ms else avg = avg * 0.9 + ms * 0.1 end
  redis.call('HSET', KEYS[3], 'service_ms_ewma', tostring(avg))
end
return existed
