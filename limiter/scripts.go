package limiter

import (
	"strconv"

	"github.com/redis/go-redis/v9"
)

// The Redis keys of one quota key share the hash tag {app|resource}, so all
// of them live in one Redis Cluster slot and one script may touch them all:
//
//	KEYS[1] hlgate:rl:{app|resource}:log   sorted set: granted slots (score µs, member = seq)
//	KEYS[2] hlgate:rl:{app|resource}:free  sorted set: future slots freed by a cancellation
//	KEYS[3] hlgate:rl:{app|resource}:st    hash: seq, day, used, cool, last, freemax
//
// Times are microseconds since the epoch on Redis' clock (TIME plus a
// test-only offset). Lua numbers are doubles, exact for integers below 2^53
// (year 2255 in µs). redis.call converts number arguments exactly (%.17g
// before Redis 7, shortest round-trip after), but Lua's own tostring, used
// by the .. operator, keeps only 14 digits: a number joined into a string
// goes through string.format('%.0f') instead.
//
// TTLs: the log lives until its latest slot is W' old, plus a second and
// up to W' of slack (see reserveScript); the free set until its latest slot
// is W' old, plus a second; the state hash lives at least until the next 00:00 UTC
// plus dayMargin (daymargin, in ms, in the scripts), and never less than
// the log, so the daily count and the member sequence (which keeps log
// members unique) outlive every slot.
// With the clock offset, TTLs are relative to the shifted clock's day; the
// offset only ever moves the clock within a test.
var scriptPrelude = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) + tonumber(ARGV[1])
local day = math.floor(now / 86400000000)
local nextday = (day + 1) * 86400000000
local daymargin = ` + strconv.FormatInt(dayMargin.Milliseconds(), 10) + `
`

// keepState makes sure the state hash lives at least ttlms and at least
// until the next 00:00 UTC plus dayMargin.
const keepState = `
local function keepstate(ttlms)
  local want = math.max(ttlms, math.floor((nextday - now) / 1000) + daymargin)
  if redis.call('PTTL', KEYS[3]) < want then
    redis.call('PEXPIRE', KEYS[3], want)
  end
end
`

// trimEvery is how many grants of a key the reserve script makes between
// two trims of its log.
const trimEvery = 16

// reserveScript makes one decision. It is the Redis form of Local.reserve;
// the invariant and the reasoning about cancelled slots are written there.
// Its decision is the Lua function decide (reserveDecision), which
// reserveManyScript runs for several decisions in one call.
//
// The hash keeps "last", the latest slot ever granted, so the script needs
// no sorted-set read for it, and "freemax", the latest slot ever freed, so
// it reads the free set only when that may hold a slot at or after now.
// After a cancellation "last" may name a slot no longer in the log; that
// slot is then in the free set and goes to the next caller before any
// normal grant, or lies in the past, where max(now, ...) ignores it, so no
// slot is ever placed later than the rule says.
//
// The log is read only through its limit-th latest slot and by score
// ranges, so slots older than the window change no decision: they are
// trimmed on every trimEvery-th grant, not on each. Its TTL is set with a
// window's slack and "exp" in the hash remembers when it ends, so the
// script sets it again only when the latest slot needs longer (and on
// every trim, should the log have been recreated without one): at full
// quota one grant in about Limit sets it, where every grant did. The TTL
// never outlasts the state hash (the next 00:00 UTC plus dayMargin).
//
// The state hash's TTL is set to end at the next 00:00 UTC plus dayMargin
// whenever the day changes (Config rejects a queue longer than dayMargin,
// so the log never outlives it); the other scripts only lengthen it.
//
// Before deciding it applies HighLevel's daily count as an answer reported
// it since this replica's last reservation (ARGV 6, day ARGV 7; -1 none),
// as the observe script would have: only ever raising the shared count,
// and only on the day it was reported. It is stored even when the decision
// refuses, so the call that brought it is counted by every replica.
//
// KEYS: the key's three (redisKeys).
// ARGV: 1 clock offset µs, 2 limit, 3 span W' µs, 4 max wait µs, 5 daily,
// 6 HighLevel's daily used (-1 none), 7 its day.
// Reply: {status, value, now, seq, day, used}: status 0 granted (value =
// slot), 1 rate limited and 2 daily quota exhausted (value = delay in µs);
// used is the day's count after the decision.
var reserveScript = redis.NewScript(reserveDecision + `
return decide(redis.call('TIME'), 0, 0)
`)

// reserveManyScript makes several decisions, in order, each as
// reserveScript would make it alone. Redis runs a script's call, its
// arguments and TIME once per call however many decisions it carries,
// and that is most of what a decision costs inside Redis (the commands of
// a grant take about a fifth of the script's time; see docs/BENCHMARKS.md),
// so concurrent decisions of one replica share one call (see reserver).
// All of them see the same TIME, as decisions made in the same instant.
// In a Redis Cluster every key of one call must be in one slot: the
// reserver only puts keys of one hash tag together there.
//
// KEYS: redisKeys of each decision in turn, three each.
// ARGV: reserveScript's 7 of each decision in turn.
// Reply: reserveScript's reply of each decision, in order.
var reserveManyScript = redis.NewScript(reserveDecision + `
local t = redis.call('TIME')
local out = {}
for i = 0, #KEYS / 3 - 1 do
  out[i + 1] = decide(t, 3 * i, 7 * i)
end
return out
`)

// reserveDecision defines decide(t, k, a), one decision of the reserve
// scripts: its keys are KEYS[k+1] to KEYS[k+3] and its arguments ARGV[a+1]
// to ARGV[a+7] (reserveScript's), t is Redis' TIME.
var reserveDecision = `
local daymargin = ` + strconv.FormatInt(dayMargin.Milliseconds(), 10) + `
local function decide(t, k, a)
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) + tonumber(ARGV[a + 1])
  local day = math.floor(now / 86400000000)
  local nextday = (day + 1) * 86400000000
  local limit = tonumber(ARGV[a + 2])
  local span = tonumber(ARGV[a + 3])
  local st = redis.call('HMGET', KEYS[k + 3], 'day', 'used', 'cool', 'last', 'seq', 'freemax', 'exp')
  local newday = tonumber(st[1]) ~= day
  local used = 0
  if not newday then used = tonumber(st[2]) or 0 end
  local ahead = tonumber(ARGV[a + 6]) or -1
  if ahead > used and tonumber(ARGV[a + 7]) == day then
    used = ahead
    redis.call('HSET', KEYS[k + 3], 'day', day, 'used', used)
    if newday then
      redis.call('PEXPIRE', KEYS[k + 3], math.floor((nextday - now) / 1000) + daymargin)
    end
  end
  if used >= tonumber(ARGV[a + 5]) then
    return {2, nextday - now, now, 0, day, used}
  end
  local floor = math.max(now, tonumber(st[3]) or 0)
  local last = tonumber(st[4]) or 0
  local slot
  local freed = {}
  if (tonumber(st[6]) or 0) >= floor then
    freed = redis.call('ZRANGEBYSCORE', KEYS[k + 2], floor, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  end
  if #freed > 0 then
    slot = tonumber(freed[2])
  else
    slot = math.max(floor, last)
    local back = redis.call('ZRANGE', KEYS[k + 1], -limit, -limit, 'WITHSCORES')
    if #back > 0 then slot = math.max(slot, tonumber(back[2]) + span) end
  end
  if slot - now > tonumber(ARGV[a + 4]) then
    return {1, slot - now, now, 0, day, used}
  end
  if #freed > 0 then redis.call('ZREM', KEYS[k + 2], freed[1]) end
  local seq = (tonumber(st[5]) or 0) + 1
  last = math.max(last, slot)
  redis.call('ZADD', KEYS[k + 1], slot, seq)
  local exp = tonumber(st[7]) or 0
  local trim = seq % ` + strconv.Itoa(trimEvery) + ` == 0
  if trim then
    redis.call('ZREMRANGEBYSCORE', KEYS[k + 1], '-inf', now - span)
  end
  if trim or last + span + 1000000 > exp then
    local ttl = math.min(math.floor((last - now + 2 * span) / 1000) + 1000, math.floor((nextday - now) / 1000) + daymargin)
    redis.call('PEXPIRE', KEYS[k + 1], ttl)
    exp = now + ttl * 1000
    redis.call('HSET', KEYS[k + 3], 'day', day, 'used', used + 1, 'last', last, 'seq', seq, 'exp', exp)
  else
    redis.call('HSET', KEYS[k + 3], 'day', day, 'used', used + 1, 'last', last, 'seq', seq)
  end
  if newday then
    redis.call('PEXPIRE', KEYS[k + 3], math.floor((nextday - now) / 1000) + daymargin)
  end
  return {0, slot, now, seq, day, used + 1}
end
`

// cancelScript frees a granted slot: a future slot moves to the free set
// (see Local.reserve for why), a past one is dropped; the daily unit is
// given back when the grant was made today.
//
// ARGV: 1 clock offset µs, 2 member (seq), 3 span W' µs, 4 day of the grant.
// Reply: 1 when the slot was still held, 0 otherwise.
var cancelScript = redis.NewScript(scriptPrelude + keepState + `
local at = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not at then return 0 end
at = tonumber(at)
redis.call('ZREM', KEYS[1], ARGV[2])
if at > now then
  redis.call('ZADD', KEYS[2], at, ARGV[2])
  if (tonumber(redis.call('HGET', KEYS[3], 'freemax')) or 0) < at then
    redis.call('HSET', KEYS[3], 'freemax', at)
  end
  local ttl = math.floor((at - now + tonumber(ARGV[3])) / 1000) + 1000
  if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
  keepstate(ttl)
end
local st = redis.call('HMGET', KEYS[3], 'day', 'used')
if tonumber(st[1]) == tonumber(ARGV[4]) and (tonumber(st[2]) or 0) > 0 then
  redis.call('HINCRBY', KEYS[3], 'used', -1)
end
return 1
`)

// observeScript records what HighLevel answered: a cool-down (never
// shortened) and HighLevel's daily remaining count (only ever raising ours).
//
// With "unless full" set (X-RateLimit-Remaining: 0 on an accepted request)
// the cool-down starts only when the log holds fewer than limit grants in
// the last W' up to now; see parseObservation.
//
// A cool-down it starts or lengthens is published on the notice channel
// as "tag end" (see notices), for callers already sleeping on every
// replica. The publish may fail (an ACL without the channel) without
// failing the script: the cool-down is stored all the same, and sleepers
// of a replica without notices read it from the hash.
//
// KEYS as reserveScript (the log and the state hash are used).
// ARGV: 1 clock offset µs, 2 cool-down µs (0 none), 3 daily remaining (-1
// none), 4 daily, 5 unless full (0/1), 6 limit, 7 span W' µs, 8 the
// notice channel, 9 the key's tag (app|resource).
// Reply: the cool-down end in µs (0 none).
var observeScript = redis.NewScript(scriptPrelude + keepState + `
local cooldown = tonumber(ARGV[2])
local remaining = tonumber(ARGV[3])
local daily = tonumber(ARGV[4])
if cooldown > 0 and ARGV[5] == '1' then
  local inwin = redis.call('ZCOUNT', KEYS[1], '(' .. string.format('%.0f', now - tonumber(ARGV[7])), now)
  if inwin >= tonumber(ARGV[6]) then cooldown = 0 end
end
local st = redis.call('HMGET', KEYS[3], 'day', 'used', 'cool')
local cool = tonumber(st[3]) or 0
local ttl = 0
if cooldown > 0 and now + cooldown > cool then
  cool = now + cooldown
  redis.call('HSET', KEYS[3], 'cool', cool)
  ttl = math.floor(cooldown / 1000) + 1000
  redis.pcall('PUBLISH', ARGV[8], ARGV[9] .. ' ' .. string.format('%.0f', cool))
end
if remaining >= 0 then
  local used = 0
  if tonumber(st[1]) == day then used = tonumber(st[2]) or 0 end
  if daily - remaining > used then
    redis.call('HSET', KEYS[3], 'day', day, 'used', daily - remaining)
  end
end
keepstate(ttl)
return cool
`)

// stateScript reads a key's view without changing it.
//
// ARGV: 1 clock offset µs, 2 limit, 3 span W' µs.
// Reply: {now, in window, queued, next slot, day used today, cool}.
var stateScript = redis.NewScript(scriptPrelude + `
local limit = tonumber(ARGV[2])
local span = tonumber(ARGV[3])
local st = redis.call('HMGET', KEYS[3], 'day', 'used', 'cool', 'last')
local used = 0
if tonumber(st[1]) == day then used = tonumber(st[2]) or 0 end
local cool = tonumber(st[3]) or 0
local inwin = redis.call('ZCOUNT', KEYS[1], '(' .. string.format('%.0f', now - span), now)
local queued = redis.call('ZCOUNT', KEYS[1], '(' .. string.format('%.0f', now), '+inf')
local floor = math.max(now, cool)
local slot
local freed = redis.call('ZRANGEBYSCORE', KEYS[2], floor, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
if #freed > 0 then
  slot = tonumber(freed[2])
else
  slot = math.max(floor, tonumber(st[4]) or 0)
  local back = redis.call('ZRANGE', KEYS[1], -limit, -limit, 'WITHSCORES')
  if #back > 0 then slot = math.max(slot, tonumber(back[2]) + span) end
end
return {now, inwin, queued, slot, used, cool}
`)
