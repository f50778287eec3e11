-- Ends a leased job: completed (ack) or failed for good (abort), and folds
-- its run time into the queue's service-time average. Only the current
-- holder may settle.
-- KEYS: 1 leased, 2 enq, 3 stats, 4 job hash
-- ARGV: 1 id, 2 stats field ('completed' or 'failed'), 3 run time ms (-1: unknown), 4 token
-- Returns 1 settled, -2 stale (the lease is someone else's, or gone).
if not holds(KEYS[4], ARGV[4]) then
  return stale(KEYS[3])
end
settle_job(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], tonumber(ARGV[3]))
return 1
