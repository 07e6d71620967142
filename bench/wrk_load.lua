-- wrk script for bench/serving_load.py: each request draws a random id from a file.
-- Environment: WRK_IDS (user ids, one a line), WRK_ITEMS (item ids), WRK_PATH (path, {id}
-- replaced), WRK_KEY (API key), WRK_MODE ("get"; "share": POST a user and an item; "events":
-- POST WRK_BATCH new events from time WRK_TS on, ids tagged with WRK_RUN, unique per run).
-- done() prints one JSON line of latency percentiles (microseconds) and counts for Python.
local ids, items = {}, {}
local path = os.getenv("WRK_PATH")
local mode = os.getenv("WRK_MODE") or "get"
local key = os.getenv("WRK_KEY") or ""
local batch = tonumber(os.getenv("WRK_BATCH") or "100")
local ts = tonumber(os.getenv("WRK_TS") or "0")
local counter = 0
-- Unique per run (event ids must not repeat across runs of one server); one thread per wrk.
local tag = os.getenv("WRK_RUN") or "0"

local function load(file, into)
  for line in io.lines(file) do into[#into + 1] = line end
end

function init(args)
  load(os.getenv("WRK_IDS"), ids)
  if mode ~= "get" then load(os.getenv("WRK_ITEMS"), items) end
  math.randomseed(os.time() + math.random(1, 100000))
  wrk.headers["X-API-Key"] = key
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  if mode == "get" then
    return wrk.format("GET", (path:gsub("{id}", ids[math.random(#ids)])))
  end
  if mode == "share" then
    return wrk.format("POST", path, nil, string.format('{"user_id":"%s","item_id":"%s"}',
      ids[math.random(#ids)], items[math.random(#items)]))
  end
  local rows = {}
  for n = 1, batch do
    counter = counter + 1
    rows[n] = string.format(
      '{"event_id":"w%s-%d","user_id":"%s","item_id":"%s","type":"view","ts":%.6f}',
      tag, counter, ids[math.random(#ids)], items[math.random(#items)], ts + counter / 1e6)
  end
  return wrk.format("POST", path, nil, '{"events":[' .. table.concat(rows, ",") .. ']}')
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"p50":%d,"p95":%d,"p99":%d,"mean":%.1f,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.mean, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout))
end
