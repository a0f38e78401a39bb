-- wrk script for bench/pages.py: each request takes the next path of BENCH_PATHS (a file, one
-- path a line) and, when BENCH_COOKIES names a file, the next Cookie header of it (one member's
-- session a line), so a run rotates over many pages and many signed-in members. Each wrk thread
-- starts at its own offset. At the end it prints one machine-readable line (wrk has no p95).
local paths, cookies = {}, {}
local i, j = 0, 0

local function lines(name)
  local out = {}
  if name and name ~= "" then
    for line in io.lines(name) do
      if line ~= "" then out[#out + 1] = line end
    end
  end
  return out
end

function init(args)
  paths = lines(os.getenv("BENCH_PATHS"))
  cookies = lines(os.getenv("BENCH_COOKIES"))
  local seed = tonumber(os.getenv("BENCH_SEED") or "0")
  i = (seed * 7919) % #paths
  j = (seed * 104729) % math.max(#cookies, 1)
end

function request()
  i = i % #paths + 1
  local headers = {}
  if #cookies > 0 then
    j = j % #cookies + 1
    headers["Cookie"] = cookies[j]
  end
  return wrk.format("GET", paths[i], headers)
end

function done(summary, latency, requests)
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"bytes":%d,"status_errors":%d,"connect_errors":%d,' ..
    '"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.status,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
