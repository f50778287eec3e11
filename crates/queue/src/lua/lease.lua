-- KEYS: 1 ready, 2 delayed, 3 leased, 4 dead, 5 enq, 6 stats, 7 seq, 8 paused flag
-- ARGV: 1 lease_ms, 2 max jobs, 3 worker, 4 job-hash key prefix,
--       5 nonce (unique per call: a lease's token is nonce:n)
-- Returns {leased, dead} as lease_jobs does.
local k = {ready = KEYS[1], delayed = KEYS[2], leased = KEYS[3], dead = KEYS[4],
  enq = KEYS[5], stats = KEYS[6], seq = KEYS[7], paused = KEYS[8]}
return lease_jobs(k, tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5])
