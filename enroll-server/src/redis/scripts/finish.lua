-- Ticket records are `student|status|reason[|decided_ms]` (src/ticket.rs).
-- KEYS: q, tk, full, gen, pace, claim, done, lease, addr
-- ARGV: gen_seen, mark_full, pace, channel, message, worker, last, then
--       (student, seq, status|reason) triples
-- A big batch is finished in parts, each published as it is written; only
-- the last (`last` = 1) flags the course, records the pace and clears the
-- claim, so a batch cut short by a lost lease is still seen as claimed.
-- Nothing is written unless `worker` still holds the course's lease: a
-- worker that stalled past its lease finds its batch re-decided by the new
-- holder (from the same committed rows) and must not overwrite that; -1.
-- A ticket is only written while it is still queued with this sequence
-- number, so a decision is never overwritten by a late one.
-- Each ticket becomes student|status|reason|decided_ms (Redis's clock) and
-- is listed in `done` by that time, for its expiry; the
-- message (the decisions for the students' event streams) is published
-- once they are all written.
if redis.call('GET', KEYS[8]) ~= ARGV[6] then return -1 end
local now = redis.call('TIME')
local ms = string.format('%d', tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000))
local written = 0
for i = 8, #ARGV, 3 do
  local student, seq = ARGV[i], ARGV[i + 1]
  local score = redis.call('ZSCORE', KEYS[1], student)
  if score and tonumber(score) == tonumber(seq) then
    redis.call('ZREM', KEYS[1], student)
  end
  local t = redis.call('HGET', KEYS[2], seq)
  if t == false or string.match(t, '^[^|]*|([^|]*)') == 'queued' then
    redis.call('HSET', KEYS[2], seq, student .. '|' .. ARGV[i + 2] .. '|' .. ms)
    redis.call('ZADD', KEYS[7], ms, seq)
    redis.call('HDEL', KEYS[9], seq)
    written = written + 1
  end
end
if ARGV[7] == '1' then
  -- Only flag the course full if no seat was freed since the batch began.
  if ARGV[2] == '1' and (redis.call('GET', KEYS[4]) or '0') == ARGV[1] then
    redis.call('SET', KEYS[3], '1')
  end
  redis.call('SET', KEYS[5], ARGV[3])
  redis.call('DEL', KEYS[6])
end
if written > 0 then
  redis.call('PUBLISH', ARGV[4], ARGV[5])
end
return redis.call('ZCARD', KEYS[1])
