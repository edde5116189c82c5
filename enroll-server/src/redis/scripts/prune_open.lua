-- Takes courses out of a student's open set, each only if it is still the
-- entry that was read (an ask since for the same course keeps its place),
-- and gives a set without a lifetime (its gate's PEXPIRE was lost) one.
-- KEYS: open set. ARGV: lifetime (ms), then (course, score) pairs.
local removed = 0
for i = 2, #ARGV, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and score == ARGV[i + 1] then
    removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
if redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return removed
