-- wrk script: GET with an Authorization header from the environment (AUTH); with DELAY_MS set, each
-- connection pauses that long between a response and its next request (a paced load, not saturation).
wrk.headers["Authorization"] = os.getenv("AUTH")
local pause = tonumber(os.getenv("DELAY_MS") or "")
if pause then delay = function() return pause end end

done = function(summary, latency, requests)
  io.write(string.format("  => %.0f requests/s, p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, non-2xx %d, errors %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1e3, latency:percentile(90) / 1e3,
    latency:percentile(99) / 1e3, latency:percentile(99.9) / 1e3,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
