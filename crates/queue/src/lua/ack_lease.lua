-- Settle one job (as settle.lua) and lease the next ones for the same worker
-- in the same round trip: a worker with one slot spends one call per job
-- instead of two. The settle is fenced by the token; a stale one leases
-- nothing.
-- KEYS: 1 ready, 2 delayed, 3 leased, 4 dead, 5 enq, 6 stats, 7 seq, 8 paused flag, 9 job hash
-- ARGV: 1 id, 2 stats field ('completed' or 'failed'), 3 run time ms (-1: unknown),
--       4 token, 5 lease_ms, 6 max next, 7 worker, 8 job-hash key prefix, 9 nonce
-- Returns {1 settled or -2 stale, leased, dead}.
if not holds(KEYS[9], ARGV[4]) then
  return {stale(KEYS[6]), {}, {}}
end
settle_job(KEYS[3], KEYS[5], KEYS[6], KEYS[9], ARGV[1], ARGV[2], tonumber(ARGV[3]))
local k = {ready = KEYS[1], delayed = KEYS[2], leased = KEYS[3], dead = KEYS[4],
  enq = KEYS[5], stats = KEYS[6], seq = KEYS[7], paused = KEYS[8]}
local batch = lease_jobs(k, tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7], ARGV[8], ARGV[9])
return {1, batch[1], batch[2]}
