-- wrk script for `dse serve`: one small query, POST /api/query with a
-- bearer token from the environment (DSE_BENCH_TOKEN) and the signature to
-- ask about (DSE_BENCH_SIG).
local token = os.getenv("DSE_BENCH_TOKEN") or ""
local sig = os.getenv("DSE_BENCH_SIG") or "@openagents/autopilot/blueprint/SelectTool.v1"
wrk.method = "POST"
wrk.path = "/api/query"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.body = '{"path":"dse/active:getActive","args":{"signatureId":"' .. sig .. '"},"format":"json"}'

-- errors.status counts non-2xx/3xx answers, so a broken server cannot pass
-- as a fast one (run.sh reports them next to the rate).
function done(summary, latency, requests)
  io.write(string.format("WRK requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
