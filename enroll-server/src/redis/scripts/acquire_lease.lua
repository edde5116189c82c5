-- KEYS: lease, claim   ARGV: worker, ttl_ms
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if cur then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local c = redis.call('GET', KEYS[2])
if c and c ~= ARGV[1] then return 2 end
return 1
