-- wrk script for scripts/bench-tracker.sh: BitTorrent HTTP announces.
--
--   wrk ... -s announce.lua http://HOST:PORT/announce -- POOL_FILE PEERS
--
-- Each request announces a random infohash from POOL_FILE (40 hex digits a
-- line, percent-encoded as binary) for a random peer of a fixed population of
-- PEERS per swarm, with compact=1 and numwant=50. A peer's identity follows the
-- same rule as internal/cmd/udpload: peer id "-BL0001-" + k in 12 digits, port
-- 10000+k, a seeder when k % 5 == 0, so HTTP and UDP load the same swarms.
--
-- Every reply is checked: a non-200 status, a "failure reason", or a body
-- without a compact peer list counts as bad. done() prints one line:
--   RESULT ok=… bad_status=… failure=… no_peers=… rate=… p50_ms=… p99_ms=…
-- where rate counts good replies only.

local threads = {}

function setup(thread)
   thread:set("id", #threads + 1)
   table.insert(threads, thread)
end

-- Per thread (each wrk thread has its own Lua state); read back in done().
pool = {}
peers = 100
ok, bad_status, failure, no_peers, peer_bytes = 0, 0, 0, 0, 0

function init(args)
   local file = args[1]
   peers = tonumber(args[2]) or 100
   if not file then
      error("announce.lua: usage: wrk ... -- POOL_FILE PEERS")
   end
   for line in io.lines(file) do
      if #line == 40 then
         local encoded = line:gsub("%x%x", "%%%0")
         pool[#pool + 1] = encoded
      end
   end
   if #pool == 0 then
      error("announce.lua: no infohashes in " .. file)
   end
   math.randomseed(os.time() * 100 + (id or 0))
end

function request()
   local k = math.random(0, peers - 1)
   local left = 1048576
   if k % 5 == 0 then
      left = 0
   end
   local path = string.format(
      "/announce?info_hash=%s&peer_id=-BL0001-%012d&port=%d&uploaded=0&downloaded=0&left=%d&compact=1&numwant=50",
      pool[math.random(#pool)], k, 10000 + k, left)
   return wrk.format("GET", path)
end

function response(status, headers, body)
   if status ~= 200 then
      bad_status = bad_status + 1
      return
   end
   if body:find("failure reason", 1, true) then
      failure = failure + 1
      return
   end
   local n = body:match("5:peers(%d+):")
   if not n then
      no_peers = no_peers + 1
      return
   end
   ok = ok + 1
   peer_bytes = peer_bytes + tonumber(n)
end

function done(summary, latency, requests)
   local t = { ok = 0, bad_status = 0, failure = 0, no_peers = 0, peer_bytes = 0 }
   for _, thread in ipairs(threads) do
      for name, _ in pairs(t) do
         t[name] = t[name] + thread:get(name)
      end
   end
   local secs = summary.duration / 1e6
   local e = summary.errors
   local avg_peers = 0
   if t.ok > 0 then
      avg_peers = t.peer_bytes / 6 / t.ok
   end
   io.write(string.format(
      "RESULT ok=%d bad_status=%d failure=%d no_peers=%d requests=%d rate=%.0f p50_ms=%.3f p99_ms=%.3f avg_peers=%.1f connect_errors=%d read_errors=%d write_errors=%d timeouts=%d\n",
      t.ok, t.bad_status, t.failure, t.no_peers, summary.requests, t.ok / secs,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, avg_peers,
      e.connect, e.read, e.write, e.timeout))
end
