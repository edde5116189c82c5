-- Counts a login attempt before the password is checked, so parallel
-- guesses are all counted. KEYS: the client key (address + student number),
-- the address key (same hash slot). ARGV: per_client, per_address,
-- window_ms, first_delay_ms, max_delay_ms.
-- Returns {1, 0} when the attempt may go ahead, {0, wait_ms} when not.
local client = redis.call('INCR', KEYS[1])
local address = redis.call('INCR', KEYS[2])
local per_client, per_address = tonumber(ARGV[1]), tonumber(ARGV[2])
-- (A success's DECR may have recreated an expired key without a TTL.)
if redis.call('PTTL', KEYS[2]) < 0 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
if client <= per_client then
  if client == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
else
  -- Past the limit each attempt doubles the wait, from its own time.
  local wait = tonumber(ARGV[4]) * 2 ^ math.min(client - per_client - 1, 30)
  redis.call('PEXPIRE', KEYS[1], math.min(wait, tonumber(ARGV[5])))
  return {0, redis.call('PTTL', KEYS[1])}
end
if address > per_address then return {0, redis.call('PTTL', KEYS[2])} end
return {1, 0}
