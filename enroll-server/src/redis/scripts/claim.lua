-- Claims the first ARGV[1] heads of a course's queue for worker ARGV[2]:
-- answers the seat generation, then (student, seq, address) per head in
-- queue order (the address the ticket was asked from, '' when unknown).
-- KEYS: q, gen, claim, addr
local heads = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
local out = {redis.call('GET', KEYS[2]) or '0'}
redis.call('SET', KEYS[3], ARGV[2])
for i = 1, #heads, 2 do
  local seq = string.format('%.0f', tonumber(heads[i + 1]))
  out[#out + 1] = heads[i]
  out[#out + 1] = seq
  out[#out + 1] = redis.call('HGET', KEYS[4], seq) or ''
end
return out
