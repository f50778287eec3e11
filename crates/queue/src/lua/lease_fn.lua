-- Lease up to `max` jobs for `worker` (shared by lease.lua and ack_lease.lua):
-- first promote due delayed jobs and reclaim expired leases (a reclaimed job
-- on its last attempt goes to the dead set and is reported), then pop the
-- ready set unless the queue is paused. Work per call is bounded (at most 200
-- promotions and reclaims), so a backlog of any size never builds an
-- oversized reply. Each lease gets the token nonce:n.
-- k: {ready, delayed, leased, dead, enq, stats, seq, paused}
-- Returns {leased = {{id, payload, attempt, max_attempts, token}...},
--          dead = {{id, payload, attempts}...}}
local function lease_jobs(k, lease_ms, max, worker, jp, nonce)
  local now = now_ms()
  local due = redis.call('ZRANGEBYSCORE', k.delayed, '-inf', now, 'LIMIT', 0, 200)
  for _, id in ipairs(due) do
    redis.call('ZREM', k.delayed, id)
    requeue(k.ready, k.seq, k.enq, jp .. id, id)
  end

  local dead = {}
  local expired = redis.call('ZRANGEBYSCORE', k.leased, '-inf', now, 'LIMIT', 0, 200)
  for _, id in ipairs(expired) do
    redis.call('ZREM', k.leased, id)
    local h = jp .. id
    if redis.call('EXISTS', h) == 1 then
      local attempts = tonumber(redis.call('HGET', h, 'attempts'))
      local max_attempts = tonumber(redis.call('HGET', h, 'max_attempts'))
      -- The lost holder's token no longer names this job's lease.
      redis.call('HDEL', h, 'token', 'worker')
      if attempts >= max_attempts then
        redis.call('HSET', h, 'last_error', 'worker.lost: the worker stopped renewing its lease')
        redis.call('ZADD', k.dead, now, id)
        redis.call('HINCRBY', k.stats, 'dead', 1)
        table.insert(dead, {id, redis.call('HGET', h, 'payload'), attempts})
      else
        redis.call('HINCRBY', k.stats, 'lease_expired', 1)
        requeue(k.ready, k.seq, k.enq, h, id)
      end
    end
  end

  local leased = {}
  if max > 0 and redis.call('EXISTS', k.paused) == 0 then
    local popped = redis.call('ZPOPMIN', k.ready, max)
    for i = 1, #popped, 2 do
      local id = popped[i]
      local h = jp .. id
      redis.call('ZREM', k.enq, id)
      if redis.call('EXISTS', h) == 1 then
        local attempt = redis.call('HINCRBY', h, 'attempts', 1)
        local token = nonce .. ':' .. (#leased + 1)
        redis.call('HSET', h, 'worker', worker, 'leased_at', now, 'token', token)
        redis.call('ZADD', k.leased, now + lease_ms, id)
        table.insert(leased, {id, redis.call('HGET', h, 'payload'), attempt,
          tonumber(redis.call('HGET', h, 'max_attempts')), token})
      end
    end
  end
  return {leased, dead}
end
