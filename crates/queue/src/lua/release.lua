-- Hands back leased jobs this worker never started (prefetched at shutdown):
-- the lease and its attempt are undone and the job is ready again.
-- KEYS: 1 ready, 2 leased, 3 enq, 4 seq
-- ARGV: 1 worker, 2 job-hash key prefix, 3.. ids
local released = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  local h = ARGV[2] .. id
  if redis.call('HGET', h, 'worker') == ARGV[1] and redis.call('ZREM', KEYS[2], id) == 1 then
    redis.call('HINCRBY', h, 'attempts', -1)
    redis.call('HDEL', h, 'worker')
    requeue(KEYS[1], KEYS[4], KEYS[3], h, id)
    released = released + 1
  end
end
return released
