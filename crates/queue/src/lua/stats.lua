-- KEYS: 1 ready, 2 delayed, 3 leased, 4 dead, 5 enq, 6 stats, 7 workers
-- ARGV: 1 live window ms
-- Returns {ready, delayed, leased, dead, oldest_age_ms (-1 if none), live workers, stats...}
local now = now_ms()
local oldest = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
local age = -1
if #oldest == 2 then
  age = now - tonumber(oldest[2])
end
redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', now - tonumber(ARGV[1]) * 10)
local live = redis.call('ZCOUNT', KEYS[7], now - tonumber(ARGV[1]), '+inf')
return {redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]),
  redis.call('ZCARD', KEYS[3]), redis.call('ZCARD', KEYS[4]), age, live,
  redis.call('HGETALL', KEYS[6])}
