-- Extends the leases this worker still holds, and records that the worker
-- is alive (the live-worker count of the scaling signal).
-- KEYS: 1 leased, 2 workers
-- ARGV: 1 lease_ms, 2 worker, 3 job-hash key prefix, 4.. ids
local now = now_ms()
redis.call('ZADD', KEYS[2], now, ARGV[2])
local deadline = now + tonumber(ARGV[1])
local renewed = 0
for i = 4, #ARGV do
  local id = ARGV[i]
  if redis.call('HGET', ARGV[3] .. id, 'worker') == ARGV[2] then
    renewed = renewed + redis.call('ZADD', KEYS[1], 'XX', 'CH', deadline, id)
  end
end
return renewed
