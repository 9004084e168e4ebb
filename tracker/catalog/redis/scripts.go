package redis

import goredis "github.com/redis/go-redis/v9"

// putScript stores a track and its index entries unless the id is taken.
// Every check comes before the first write, so a Put that fails changes
// nothing (Redis does not roll a script back).
//
// KEYS: track hash, ids set, meta hash, sort hash, order zset, words zset,
// then one zset per index word.
// ARGV: id, meta JSON, torrent, publisher, published_at ns, words field,
// sort key, events channel, then per index word: word, field mask.
// Returns {1} when stored, or {0, meta, torrent, publisher, published_at}
// of the track already there.
var putScript = goredis.NewScript(`
local id = ARGV[1]
if redis.call('EXISTS', KEYS[1]) == 1 then
	local cur = redis.call('HMGET', KEYS[1], 'meta', 'torrent', 'publisher', 'published_at')
	return {0, cur[1], cur[2], cur[3], cur[4]}
end
redis.call('HSET', KEYS[1], 'meta', ARGV[2], 'torrent', ARGV[3], 'publisher', ARGV[4],
	'published_at', ARGV[5], 'words', ARGV[6], 'sort', ARGV[7])
redis.call('SADD', KEYS[2], id)
redis.call('HSET', KEYS[3], id, ARGV[2])
redis.call('HSET', KEYS[4], id, ARGV[7])
redis.call('ZADD', KEYS[5], 0, ARGV[7])
for i = 7, #KEYS do
	local a = 9 + (i - 7) * 2
	redis.call('ZADD', KEYS[6], 0, ARGV[a])
	redis.call('ZADD', KEYS[i], tonumber(ARGV[a + 1]), id)
end
redis.call('PUBLISH', ARGV[8], '+' .. id)
return {1}
`)

// deleteScript removes a track and its index entries if publisher owns it.
// The caller read the track's words field to name the word keys; if the
// track changed since (deleted and published again), it answers "retry".
//
// KEYS: as putScript's. ARGV: id, publisher, words field as read, events
// channel, then the index words in KEYS order.
// Returns "ok", "notfound", "forbidden" or "retry".
var deleteScript = goredis.NewScript(`
local id = ARGV[1]
local cur = redis.call('HMGET', KEYS[1], 'publisher', 'words', 'sort')
if not cur[1] then return 'notfound' end
if cur[1] ~= ARGV[2] then return 'forbidden' end
if cur[2] ~= ARGV[3] then return 'retry' end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], id)
redis.call('HDEL', KEYS[3], id)
redis.call('HDEL', KEYS[4], id)
if cur[3] then redis.call('ZREM', KEYS[5], cur[3]) end
for i = 7, #KEYS do
	redis.call('ZREM', KEYS[i], id)
	if redis.call('ZCARD', KEYS[i]) == 0 then
		redis.call('ZREM', KEYS[6], ARGV[5 + i - 7])
	end
end
redis.call('PUBLISH', ARGV[4], '-' .. id)
return 'ok'
`)
