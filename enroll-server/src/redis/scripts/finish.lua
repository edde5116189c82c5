-- Ticket records are `student|status|reason[|decided_ms]` (src/ticket.rs).
-- KEYS: q, tk, full, gen, pace, claim, done
-- ARGV: gen_seen, mark_full, pace, channel, message, then
--       (student, seq, status|reason) triples
-- Each ticket becomes student|status|reason|decided_ms (Redis's clock) and
-- is listed in `done` by that time, for its expiry; the
-- message (the decisions for the students' event streams) is published
-- once they are all written.
local now = redis.call('TIME')
local ms = string.format('%d', tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000))
for i = 6, #ARGV, 3 do
  local student, seq = ARGV[i], ARGV[i + 1]
  local score = redis.call('ZSCORE', KEYS[1], student)
  if score and tonumber(score) == tonumber(seq) then
    redis.call('ZREM', KEYS[1], student)
  end
  redis.call('HSET', KEYS[2], seq, student .. '|' .. ARGV[i + 2] .. '|' .. ms)
  redis.call('ZADD', KEYS[7], ms, seq)
end
-- Only flag the course full if no seat was freed since the batch began.
if ARGV[2] == '1' and (redis.call('GET', KEYS[4]) or '0') == ARGV[1] then
  redis.call('SET', KEYS[3], '1')
end
redis.call('SET', KEYS[5], ARGV[3])
redis.call('DEL', KEYS[6])
if #ARGV > 5 then
  redis.call('PUBLISH', ARGV[4], ARGV[5])
end
return redis.call('ZCARD', KEYS[1])
