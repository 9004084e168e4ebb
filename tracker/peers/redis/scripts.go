package redis

import goredis "github.com/redis/go-redis/v9"

// Lua shared by the scripts: the server's clock in milliseconds (every
// tracker instance then ages peers by one clock), and prune, which drops a
// role's expired peers, their entries in the swarm's hash, and their share
// of the global counters. A member is compact address .. peer id (20 bytes).
const luaPrelude = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function prune(k, h, stats, field, cutoff)
	local old = redis.call('ZRANGEBYSCORE', k, '-inf', cutoff)
	local n = #old
	if n == 0 then return end
	redis.call('ZREMRANGEBYSCORE', k, '-inf', cutoff)
	for i = 1, n do
		old[i] = string.sub(old[i], 1, -21)
	end
	for i = 1, n, 1000 do
		redis.call('HDEL', h, unpack(old, i, math.min(i + 999, n)))
	end
	redis.call('HINCRBY', stats, field, -n)
end
`

// announceScript records (or on stopped removes) one peer and picks peers
// for it, in one round trip.
//
// KEYS: own-family seeders, own-family leechers, other-family seeders,
// other-family leechers (sorted sets: compact address .. peer id -> last
// seen ms), the swarm's hash (compact address -> "s" or "l" .. peer id: the
// one entry of that address, so that a restarted client on the same
// address replaces its old entry; "d" -> downloaded; "p" -> when its
// oldest peer expires, ms), the swarms index
// (sorted set: hex infohash -> last announce ms), the counters hash ("s"
// seeders, "l" leechers over every swarm).
// ARGV: compact address, peer id, "1" if a seeder, event name, numwant,
// peer TTL ms, key TTL ms, hex infohash.
// Returns {complete, incomplete, member, member, ...}.
var announceScript = goredis.NewScript(luaPrelude + `
local S1, L1, S2, L2, H, swarms, stats = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local addr, id, seeder, event = ARGV[1], ARGV[2], ARGV[3] == '1', ARGV[4]
local want, cutoff, kttl, ih = tonumber(ARGV[5]), now - tonumber(ARGV[6]), ARGV[7], ARGV[8]
-- "p" is when the swarm's oldest peer expires: until then nothing can have
-- expired, and the four prunes are skipped.
local hv = redis.call('HMGET', H, addr, 'p')
local old = hv[1]
if not hv[2] or now >= tonumber(hv[2]) then
	prune(S1, H, stats, 's', cutoff)
	prune(L1, H, stats, 'l', cutoff)
	prune(S2, H, stats, 's', cutoff)
	prune(L2, H, stats, 'l', cutoff)
	local due = now
	for _, k in ipairs({S1, L1, S2, L2}) do
		local first = redis.call('ZRANGE', k, 0, 0, 'WITHSCORES')
		if first[2] and tonumber(first[2]) < due then due = tonumber(first[2]) end
	end
	if event ~= 'stopped' then -- a stray stop writes nothing
		redis.call('HSET', H, 'p', due + tonumber(ARGV[6]))
	end
	old = redis.call('HGET', H, addr) -- the prune may have dropped it
end

local stopped = event == 'stopped'
local self = addr .. id
local role, roleKey = 'l', L1
if seeder then role, roleKey = 's', S1 end
local entry = role .. id
local wasSeeder = old and string.sub(old, 1, 1) == 's'
if old and (stopped or old ~= entry) then
	local oldRole, oldKey = 'l', L1
	if wasSeeder then oldRole, oldKey = 's', S1 end
	if redis.call('ZREM', oldKey, addr .. string.sub(old, 2)) == 1 then
		redis.call('HINCRBY', stats, oldRole, -1)
	end
end
if stopped then
	if old then redis.call('HDEL', H, addr) end
else
	if redis.call('ZADD', roleKey, now, self) == 1 then
		redis.call('HINCRBY', stats, role, 1)
	end
	redis.call('PEXPIRE', roleKey, kttl)
	if old ~= entry then
		redis.call('HSET', H, addr, entry)
	end
	if event == 'completed' and not wasSeeder then
		redis.call('HINCRBY', H, 'd', 1)
	end
	redis.call('PEXPIRE', H, kttl)
end

local cS1, cL1 = redis.call('ZCARD', S1), redis.call('ZCARD', L1)
local cS2, cL2 = redis.call('ZCARD', S2), redis.call('ZCARD', L2)
local out = {cS1 + cS2, cL1 + cL2}
if cS1 + cS2 + cL1 + cL2 == 0 then
	redis.call('ZREM', swarms, ih)
else
	-- The global keys' TTLs are refreshed by the sweep, and here when a
	-- swarm joins the index (which also creates them).
	if redis.call('ZADD', swarms, now, ih) == 1 then
		redis.call('PEXPIRE', swarms, kttl)
		redis.call('PEXPIRE', stats, kttl)
	end
end
if want <= 0 or stopped then return out end

-- How many of each: a seeder gets leechers only; a leecher gets at most
-- half seeders while leechers last, so listeners also learn of each other.
-- Own address family first.
local aS1, aL1 = cS1, cL1
if seeder then aS1 = aS1 - 1 else aL1 = aL1 - 1 end
local nS1, nL1, nS2, nL2 = 0, 0, 0, 0
if seeder then
	nL1 = math.min(want, aL1)
	nL2 = math.min(want - nL1, cL2)
else
	local S, L = aS1 + cS2, aL1 + cL2
	local ns = math.min(math.floor((want + 1) / 2), S)
	local nl = math.min(want - ns, L)
	ns = math.min(want - nl, S)
	nS1 = math.min(ns, aS1)
	nS2 = ns - nS1
	nL1 = math.min(nl, aL1)
	nL2 = nl - nL1
end
local function take(k, n, hasSelf)
	if n <= 0 then return end
	local ask = n
	if hasSelf then ask = n + 1 end
	local c = 0
	for _, m in ipairs(redis.call('ZRANDMEMBER', k, ask)) do
		if c >= n then break end
		if not (hasSelf and m == self) then
			out[#out + 1] = m
			c = c + 1
		end
	end
end
take(S1, nS1, seeder)
take(L1, nL1, not seeder)
take(S2, nS2, false)
take(L2, nL2, false)
return out
`)

// pruneScript prunes swarms and counts them: Scrape and the sweep.
//
// KEYS: the swarms index, the counters hash, then per swarm its seeders4,
// leechers4, seeders6, leechers6 and hash (as in announceScript).
// ARGV: peer TTL ms, then the swarms' hex infohashes.
// Returns {complete, incomplete, downloaded} per swarm.
var pruneScript = goredis.NewScript(luaPrelude + `
local swarms, stats = KEYS[1], KEYS[2]
local cutoff = now - tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV do
	local b = 2 + (i - 2) * 5
	local S4, L4, S6, L6, H = KEYS[b + 1], KEYS[b + 2], KEYS[b + 3], KEYS[b + 4], KEYS[b + 5]
	prune(S4, H, stats, 's', cutoff)
	prune(L4, H, stats, 'l', cutoff)
	prune(S6, H, stats, 's', cutoff)
	prune(L6, H, stats, 'l', cutoff)
	local c = redis.call('ZCARD', S4) + redis.call('ZCARD', S6)
	local l = redis.call('ZCARD', L4) + redis.call('ZCARD', L6)
	if c + l == 0 then
		redis.call('ZREM', swarms, ARGV[i])
	end
	out[#out + 1] = c
	out[#out + 1] = l
	out[#out + 1] = tonumber(redis.call('HGET', H, 'd') or '0')
end
return out
`)
