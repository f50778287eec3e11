-- Extends the leases this worker still holds, and records that the worker
-- is alive (the live-worker count of the scaling signal). A lease whose
-- token no longer matches (it expired and was handed out again, the job was
-- settled or lost) is reported lost: its holder must stop that run.
-- KEYS: 1 leased, 2 workers, 3.. job hashes (one per lease, same order)
-- ARGV: 1 lease_ms, 2 worker, 3.. id, token pairs
-- Returns the tokens of the leases lost (by token, not id: a worker may
-- hold an old lease and a new one on the same job while the old run stops).
local now = now_ms()
redis.call('ZADD', KEYS[2], now, ARGV[2])
local deadline = now + tonumber(ARGV[1])
local lost = {}
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  local h = KEYS[3 + (i - 3) / 2]
  if holds(h, ARGV[i + 1]) and redis.call('ZSCORE', KEYS[1], id) then
    redis.call('ZADD', KEYS[1], 'XX', deadline, id)
  else
    table.insert(lost, ARGV[i + 1])
  end
end
return lost
