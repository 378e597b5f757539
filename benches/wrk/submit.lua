-- Same-night submissions for benches/wrk/run.sh: food requests of 5.00 the policy approves,
-- each with a new Idempotency-Key, spread over the cases the script opened.
local dir = os.getenv("PASSAGE_WRK_DIR")
local f = io.open(dir .. "/token.txt"); local token = f:read("*l"); f:close()
local cases = {}
for line in io.lines(dir .. "/cases.txt") do cases[#cases + 1] = line end
local counter = 0
refused = 0
-- The server's clock is the real one: needed_by is today (UTC), within its year either side.
local today = os.date("!%Y-%m-%d")
local threads = {}
function setup(thread)
  threads[#threads + 1] = thread
  thread:set("tid", #threads)
end
function request()
  counter = counter + 1
  local code = cases[((counter * 7 + tid) % #cases) + 1]
  local body = '{"case_code":"' .. code .. '","category":"food","amount":"5.00","needed_by":"' .. today .. '"}'
  return wrk.format("POST", "/api/v1/requests", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = tid .. "-" .. counter .. "-" .. math.random(1e9),
  }, body)
end
-- Anything but 201 with an approval counts as refused.
function response(status, headers, body)
  if status ~= 201 or not string.find(body, '"approved"', 1, true) then
    refused = refused + 1
  end
end
function done(summary, latency, requests)
  local not_approved = 0
  for _, thread in ipairs(threads) do
    not_approved = not_approved + thread:get("refused")
  end
  io.write(string.format("p50 %.1f ms, p99 %.1f ms, max %.1f ms, not approved %d\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    not_approved))
end
