-- Forget dead jobs (their Postgres rows stay, status dead).
-- KEYS: 1 dead
-- ARGV: 1 job-hash key prefix, 2.. ids (none: every dead job, up to 1000)
local ids = selected_dead(KEYS[1])
local purged = {}
for _, id in ipairs(ids) do
  if redis.call('ZREM', KEYS[1], id) == 1 then
    redis.call('DEL', ARGV[1] .. id)
    table.insert(purged, id)
  end
end
return purged
