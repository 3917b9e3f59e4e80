-- wrk script of bench/run.py: POSTs GraphQL request bodies to the URL wrk was given,
-- rotating over the bodies of the file named by WRK_BODIES (one JSON body per line),
-- with the header `Authorization: <WRK_AUTHORIZATION>` when set. Counts non-2xx answers
-- and answers whose body contains "errors", and prints one parseable line at the end:
--   WRK requests=N duration_us=N p50_us=N p90_us=N p99_us=N max_us=N non2xx=N
--       gql_errors=N connect=N read=N write=N timeout=N
local threads = {}
local counter = 0

function setup(thread)
  thread:set("offset", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  bodies = {}
  for line in io.lines(os.getenv("WRK_BODIES")) do
    if #line > 0 then
      table.insert(bodies, line)
    end
  end
  if #bodies == 0 then
    error("no request bodies in " .. os.getenv("WRK_BODIES"))
  end
  next_body = (offset * 7) % #bodies
  non2xx = 0
  gql_errors = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json"
  local authorization = os.getenv("WRK_AUTHORIZATION")
  if authorization and #authorization > 0 then
    wrk.headers["Authorization"] = authorization
  end
end

function request()
  next_body = next_body % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[next_body])
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
  if body and string.find(body, '"errors"', 1, true) then
    gql_errors = gql_errors + 1
  end
end

function done(summary, latency, requests)
  local bad, errs = 0, 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
    errs = errs + thread:get("gql_errors")
  end
  local e = summary.errors
  io.write(string.format(
    "WRK requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx=%d " ..
    "gql_errors=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, bad, errs, e.connect, e.read, e.write, e.timeout))
end
