-- Newest dead jobs first.
-- KEYS: 1 dead
-- ARGV: 1 job-hash key prefix, 2 limit
-- Returns {{id, payload, attempts, last_error, died_at_ms}...}
local rows = {}
local ids = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1, 'WITHSCORES')
for i = 1, #ids, 2 do
  local h = ARGV[1] .. ids[i]
  local f = redis.call('HMGET', h, 'payload', 'attempts', 'last_error')
  table.insert(rows, {ids[i], f[1] or '', tonumber(f[2] or '0'), f[3] or '', tonumber(ids[i + 1])})
end
return rows
