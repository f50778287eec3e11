-- Hands back leased jobs this worker never started (prefetched at shutdown):
-- the lease and its attempt are undone and the job is ready again. Only
-- leases the caller still holds are handed back.
-- KEYS: 1 ready, 2 leased, 3 enq, 4 seq, 5.. job hashes (one per lease, same order)
-- ARGV: id, token pairs
local released = 0
for i = 1, #ARGV, 2 do
  local id = ARGV[i]
  local h = KEYS[5 + (i - 1) / 2]
  if holds(h, ARGV[i + 1]) and redis.call('ZREM', KEYS[2], id) == 1 then
    redis.call('HINCRBY', h, 'attempts', -1)
    redis.call('HDEL', h, 'worker', 'token')
    requeue(KEYS[1], KEYS[4], KEYS[3], h, id)
    released = released + 1
  end
end
return released
