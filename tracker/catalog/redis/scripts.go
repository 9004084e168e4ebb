package redis

import goredis "github.com/redis/go-redis/v9"

// writeScript creates, updates or deletes one track with its index
// entries, its place in the listing and in its album, atomically. Every
// check comes before the first write, so a call that fails changes nothing
// (Redis does not roll a script back). The caller read the track's words
// and album id to name their keys; if the track changed since, the script
// answers "retry".
//
// Two more modes keep the deny list: "takedown" deletes the track, whoever
// published it, and puts its id on the deny list; "deny" puts an id that
// no track has on the deny list. A create of a denied id is refused.
//
// KEYS: 1 track hash, 2 ids set, 3 meta hash, 4 sort hash, 5 order zset,
// 6 words zset, 7 albums zset, 8 album sort hash, 9 album-of-track hash,
// 10 and 11 the old album's track and year zsets, 12 and 13 the new
// album's, 14 the deny hash, then the old index words' zsets, then the new
// ones'.
//
// ARGV: 1 mode (create, update, delete, takedown or deny), 2 id, 3 events
// channel, 4 publisher, 5 the words field as read, 6 the number of old
// words, 7 the number of new words; the new track: 8 meta JSON, 9 torrent,
// 10 published_at ns, 11 words field, 12 sort key, 13 album id ("" for
// none), 14 its member in the album, 15 year, 16 and 17 the album sort
// key's parts before and after the year; 18 the old album id as read;
// 19 the denial JSON (takedown, deny); then the old words, then per new
// word: word, field mask.
//
// Returns {"ok", published_at}, {"exists"} (create of a present id),
// {"denied"} (create of a denied id), {"notfound"}, {"retry"}, or
// {"forbidden", meta, torrent, publisher, published_at} of the track
// another publisher published.
var writeScript = goredis.NewScript(`
local K, A = KEYS, ARGV
local mode, id = A[1], A[2]
local nOld, nNew = tonumber(A[6]), tonumber(A[7])

-- albumRekey files album aid in the albums zset under its current sort
-- key (its year is its earliest track's), or removes it when it has no
-- tracks left. prefix and suffix are the key's parts around the year; nil
-- takes them from the album's present key.
local function albumRekey(aKey, ayKey, aid, prefix, suffix)
	local old = redis.call('HGET', K[8], aid)
	if redis.call('ZCARD', aKey) == 0 then
		redis.call('DEL', ayKey)
		if old then
			redis.call('ZREM', K[7], old)
			redis.call('HDEL', K[8], aid)
		end
		return
	end
	if not prefix then
		if not old then return end
		local i = string.find(old, '\0', 1, true)
		prefix, suffix = string.sub(old, 1, i), string.sub(old, i + 5)
	end
	local y = 0
	local first = redis.call('ZRANGE', ayKey, 0, 0, 'WITHSCORES')
	if first[2] then y = tonumber(first[2]) end
	local new = prefix .. string.format('%04d', y) .. suffix
	if old ~= new then
		if old then redis.call('ZREM', K[7], old) end
		redis.call('ZADD', K[7], 0, new)
		redis.call('HSET', K[8], aid, new)
	end
end

local cur = redis.call('HMGET', K[1], 'publisher', 'words', 'sort', 'aid', 'amember', 'published_at', 'meta', 'torrent')
if mode == 'create' then
	if cur[1] then return {'exists'} end
	if redis.call('HEXISTS', K[14], id) == 1 then return {'denied'} end
elseif mode == 'deny' then
	if cur[1] then return {'retry'} end -- published since it was read: take it down
	redis.call('HSET', K[14], id, A[19])
	redis.call('PUBLISH', A[3], 'D' .. id)
	return {'ok', '0'}
else
	if not cur[1] then return {'notfound'} end
	if mode ~= 'takedown' and cur[1] ~= A[4] then return {'forbidden', cur[7], cur[8], cur[1], cur[6]} end
	if cur[2] ~= A[5] or (cur[4] or '') ~= A[18] then return {'retry'} end
	redis.call('DEL', K[1])
	redis.call('SREM', K[2], id)
	redis.call('HDEL', K[3], id)
	redis.call('HDEL', K[4], id)
	redis.call('HDEL', K[9], id)
	if cur[3] then redis.call('ZREM', K[5], cur[3]) end
	for i = 1, nOld do
		local k = K[14 + i]
		redis.call('ZREM', k, id)
		if redis.call('ZCARD', k) == 0 then redis.call('ZREM', K[6], A[19 + i]) end
	end
	if cur[4] and cur[4] ~= '' then
		redis.call('ZREM', K[10], cur[5])
		redis.call('ZREM', K[11], id)
		albumRekey(K[10], K[11], cur[4])
	end
	if mode == 'delete' then
		redis.call('PUBLISH', A[3], '-' .. id)
		return {'ok', cur[6]}
	end
	if mode == 'takedown' then
		redis.call('HSET', K[14], id, A[19])
		redis.call('PUBLISH', A[3], '-' .. id)
		redis.call('PUBLISH', A[3], 'D' .. id)
		return {'ok', cur[6]}
	end
end

local publishedAt = A[10]
if mode == 'update' then publishedAt = cur[6] end
redis.call('HSET', K[1], 'meta', A[8], 'torrent', A[9], 'publisher', A[4], 'published_at', publishedAt,
	'words', A[11], 'sort', A[12], 'aid', A[13], 'amember', A[14])
redis.call('SADD', K[2], id)
redis.call('HSET', K[3], id, A[8])
redis.call('HSET', K[4], id, A[12])
redis.call('ZADD', K[5], 0, A[12])
for i = 1, nNew do
	local a = 20 + nOld + (i - 1) * 2
	redis.call('ZADD', K[6], 0, A[a])
	redis.call('ZADD', K[14 + nOld + i], tonumber(A[a + 1]), id)
end
if A[13] ~= '' then
	redis.call('HSET', K[9], id, A[13])
	redis.call('ZADD', K[12], 0, A[14])
	if tonumber(A[15]) > 0 then redis.call('ZADD', K[13], tonumber(A[15]), id) end
	albumRekey(K[12], K[13], A[13], A[16], A[17])
end
if mode == 'create' then redis.call('PUBLISH', A[3], '+' .. id) end
return {'ok', publishedAt}
`)

// liftScript takes an id off the deny list and tells the other instances.
//
// KEYS: 1 deny hash. ARGV: 1 id, 2 events channel. Returns 1, or 0 when the
// id was not on the list.
var liftScript = goredis.NewScript(`
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('PUBLISH', ARGV[2], 'L' .. ARGV[1])
return 1
`)

// renameScript sets a track's publisher to ARGV[2] if it is ARGV[1].
//
// KEYS: 1 track hash. Returns 1 when it did.
var renameScript = goredis.NewScript(`
if redis.call('HGET', KEYS[1], 'publisher') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'publisher', ARGV[2])
return 1
`)
