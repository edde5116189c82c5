-- Forgets a course's tickets decided before a cutoff: their record, and the
-- student's pointer to it when it is still their latest ticket. A queued
-- ticket is never listed in `done`, so it is never touched.
-- KEYS: done, tk, st. ARGV: age_ms, limit, now_ms ('' = Redis's clock).
-- Returns how many were forgotten.
local now
if ARGV[3] ~= '' then
  now = tonumber(ARGV[3])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local cutoff = string.format('%.0f', now - tonumber(ARGV[1]))
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff, 'LIMIT', 0, tonumber(ARGV[2]))
for _, seq in ipairs(old) do
  local t = redis.call('HGET', KEYS[2], seq)
  if t then
    local student = string.match(t, '^([^|]*)')
    if redis.call('HGET', KEYS[3], student) == seq then
      redis.call('HDEL', KEYS[3], student)
    end
    redis.call('HDEL', KEYS[2], seq)
  end
  redis.call('ZREM', KEYS[1], seq)
end
return #old
