-- wrk script: POST a body given in the environment (BODY), with its content type (CT, default a form)
-- and an optional Authorization header (AUTH).
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = os.getenv("CT") or "application/x-www-form-urlencoded"
local auth = os.getenv("AUTH")
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end

done = function(summary, latency, requests)
  io.write(string.format("  => %.0f requests/s, p50 %.2f ms, p99 %.2f ms, non-2xx %d, errors %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
