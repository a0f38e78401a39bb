-- wrk script for bench/serve_bench.py: print one machine-readable line of figures at the end
-- (wrk's own output has no p95). With BENCH_DELAY_MS set, each connection pauses that long
-- between requests, which paces the total rate (32 connections x 64 ms -> about 500 req/s).
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")

if pause > 0 then
  function delay()
    return pause
  end
end

function done(summary, latency, requests)
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"bytes":%d,"status_errors":%d,"connect_errors":%d,' ..
    '"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.status,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
