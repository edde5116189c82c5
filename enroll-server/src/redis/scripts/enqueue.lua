-- Ticket records are `student|status|reason[|decided_ms]` (src/ticket.rs).
-- KEYS: q, seq, st, tk, full, pace, addr   ARGV: student, client address
-- A queued answer also carries the sequence number at the queue's head
-- (read in the same step as the rank), for a stream to follow the place.
local prev = redis.call('HGET', KEYS[3], ARGV[1])
if prev then
  local t = redis.call('HGET', KEYS[4], prev)
  if t then
    local status = string.match(t, '^[^|]*|([^|]*)')
    if status == 'queued' then
      local rank = redis.call('ZRANK', KEYS[1], ARGV[1])
      if rank then
        local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2] or prev
        return {'queued', prev, rank, 1, redis.call('GET', KEYS[6]) or '0', head}
      end
    elseif status == 'enrolled' then
      return {'enrolled', prev, -1, 1, '0', '0'}
    end
  end
end
if redis.call('EXISTS', KEYS[5]) == 1 then return {'full', '0', -1, 0, '0', '0'} end
local seq = redis.call('INCR', KEYS[2])
if seq == 1 then
  -- A new (or lost and recreated) counter starts at Redis's clock in
  -- microseconds, so ticket ids never repeat after a data loss. Order still
  -- comes only from INCR.
  local t = redis.call('TIME')
  seq = tonumber(t[1]) * 1000000 + tonumber(t[2])
  redis.call('SET', KEYS[2], string.format('%.0f', seq))
end
-- Numbers are passed as strings: Lua would print large ones in %.14g.
local s = string.format('%.0f', seq)
redis.call('ZADD', KEYS[1], 'NX', s, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], s)
redis.call('HSET', KEYS[4], s, ARGV[1] .. '|queued|')
-- Kept until the decision is written, for its audit row.
redis.call('HSET', KEYS[7], s, ARGV[2])
local rank = redis.call('ZRANK', KEYS[1], ARGV[1])
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2] or s
return {'queued', s, rank, 0, redis.call('GET', KEYS[6]) or '0', head}
