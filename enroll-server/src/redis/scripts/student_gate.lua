-- A student's fair-use bucket (GCRA: the bucket is the time at which it
-- would be full again) and, for enroll requests, their tickets in line.
-- KEYS: bucket[, open set]. ARGV: interval_us, burst, now_us ('' = Redis's
-- clock), then for the open set: course, cap, ttl_ms.
-- Returns {0, 0} go ahead, {1, wait_ms} rate limited, {2, open} at the cap.
local now
if ARGV[3] ~= '' then
  now = tonumber(ARGV[3])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
if burst > 0 then
  local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
  if tat < now then tat = now end
  local next_tat = tat + interval
  local wait = next_tat - burst * interval - now
  if wait > 0 then return {1, math.ceil(wait / 1000)} end
  redis.call('SET', KEYS[1], string.format('%.0f', next_tat),
    'PX', math.ceil((next_tat - now) / 1000) + 1)
end
if #KEYS > 1 and not redis.call('ZSCORE', KEYS[2], ARGV[4]) then
  local open = redis.call('ZCARD', KEYS[2])
  if open >= tonumber(ARGV[5]) then return {2, open} end
  redis.call('ZADD', KEYS[2], string.format('%.0f', now), ARGV[4])
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
end
return {0, 0}
