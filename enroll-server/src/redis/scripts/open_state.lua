-- Where a student's latest ticket in one course stands, for the open-ticket
-- cap's pruning: -1 while it is in line, the time it was decided (ms,
-- Redis's clock), or -2 when there is none (never issued, or forgotten).
-- KEYS: st, tk. ARGV: student.
local seq = redis.call('HGET', KEYS[1], ARGV[1])
if not seq then return -2 end
local t = redis.call('HGET', KEYS[2], seq)
if not t then return -2 end
local status, decided = string.match(t, '^[^|]*|([^|]*)|[^|]*|?(%d*)$')
if status == 'queued' then return -1 end
return tonumber(decided) or 0
