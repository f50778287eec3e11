-- Put dead jobs back in the queue with a fresh attempt budget.
-- KEYS: 1 dead, 2 ready, 3 enq, 4 seq, 5 stats
-- ARGV: 1 job-hash key prefix, 2.. ids (none: every dead job, up to 1000)
local ids = selected_dead(KEYS[1])
local retried = {}
for _, id in ipairs(ids) do
  local h = ARGV[1] .. id
  if redis.call('ZREM', KEYS[1], id) == 1 and redis.call('EXISTS', h) == 1 then
    redis.call('HSET', h, 'attempts', 0)
    redis.call('HDEL', h, 'worker', 'cancel', 'token')
    requeue(KEYS[2], KEYS[4], KEYS[3], h, id)
    redis.call('HINCRBY', KEYS[5], 'dead_retried', 1)
    table.insert(retried, id)
  end
end
return retried
