-- Takes courses out of a student's open set, each only if it is still the
-- entry that was read (a new ticket in the same course keeps its place).
-- KEYS: open set. ARGV: (course, score) pairs.
local removed = 0
for i = 1, #ARGV, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and score == ARGV[i + 1] then
    removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return removed
