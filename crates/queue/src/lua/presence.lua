-- Where each job is, for the reconciler: 0 absent (Redis lost it, or it was
-- settled), 1 in the queue (ready, delayed or leased), 2 dead.
-- KEYS: 1 dead, 2.. job hashes (one per id, same order)
-- ARGV: ids
local out = {}
for i, id in ipairs(ARGV) do
  if redis.call('EXISTS', KEYS[i + 1]) == 0 then
    out[i] = 0
  elseif redis.call('ZSCORE', KEYS[1], id) then
    out[i] = 2
  else
    out[i] = 1
  end
end
return out
