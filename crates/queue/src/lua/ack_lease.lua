-- Settle one or more jobs (as settle.lua, each fenced by its own token) and
-- lease the next ones for the same worker in the same round trip: a worker
-- spends one call for a whole batch of finished jobs and the jobs that
-- replace them.
-- KEYS: 1 ready, 2 delayed, 3 leased, 4 dead, 5 enq, 6 stats, 7 seq, 8 paused flag,
--       9.. job hashes (one per settled job, in ARGV order)
-- ARGV: 1 lease_ms, 2 max next, 3 worker, 4 job-hash key prefix, 5 nonce,
--       then per job: id, token, stats field ('completed' or 'failed'), run time ms (-1: unknown)
-- Returns {{1 settled or -2 stale, per job}, leased, dead}.
local settled = {}
local n = 0
for i = 6, #ARGV, 4 do
  n = n + 1
  local h = KEYS[8 + n]
  if holds(h, ARGV[i + 1]) then
    settle_job(KEYS[3], KEYS[5], KEYS[6], h, ARGV[i], ARGV[i + 2], tonumber(ARGV[i + 3]))
    settled[n] = 1
  else
    settled[n] = stale(KEYS[6])
  end
end
local k = {ready = KEYS[1], delayed = KEYS[2], leased = KEYS[3], dead = KEYS[4],
  enq = KEYS[5], stats = KEYS[6], seq = KEYS[7], paused = KEYS[8]}
local batch = lease_jobs(k, tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5])
return {settled, batch[1], batch[2]}
