-- wrk script: POST pre-signed, distinct Stripe events, rotating through a pool file.
--
-- Usage: wrk ... -s bench/signed_events.lua URL -- POOL_FILE THREADS EXPECT
--   POOL_FILE  one "signature<TAB>body" line per event (bench/events.py writes it)
--   THREADS    the -t value: thread k sends lines k, k+THREADS, ... so no two threads share one
--   EXPECT     a string every 2xx body must contain ('"accepted"'), or "-" to check nothing
-- Prints one line "BENCH_RESULT {json}" with counts and latency percentiles in microseconds.

local threads = {}
local next_id = 0

function setup(thread)
   thread:set("thread_id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

local requests = {}
local pool = 0
local position = 0
local expect = nil
responses = 0
non2xx = 0
unexpected = 0
wrapped = 0
first_unexpected = ""

function init(args)
   local path, count = args[1], tonumber(args[2])
   if args[3] ~= "-" then
      expect = args[3]
   end
   local line_no = 0
   for line in io.lines(path) do
      if line_no % count == thread_id then
         local tab = string.find(line, "\t", 1, true)
         local headers = {
            ["Content-Type"] = "application/json",
            ["Stripe-Signature"] = string.sub(line, 1, tab - 1),
         }
         pool = pool + 1
         requests[pool] = wrk.format("POST", nil, headers, string.sub(line, tab + 1))
      end
      line_no = line_no + 1
   end
   if pool == 0 then
      error("no events for thread " .. thread_id .. " in " .. path)
   end
end

function request()
   position = position + 1
   if position > pool then
      position = 1
      wrapped = wrapped + 1
   end
   return requests[position]
end

function response(status, headers, body)
   responses = responses + 1
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      if first_unexpected == "" then
         first_unexpected = status .. " " .. string.sub(body or "", 1, 200)
      end
   elseif expect and not string.find(body or "", expect, 1, true) then
      unexpected = unexpected + 1
      if first_unexpected == "" then
         first_unexpected = status .. " " .. string.sub(body or "", 1, 200)
      end
   end
end

local function quoted(text)
   return '"' .. string.gsub(text, '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end) .. '"'
end

function done(summary, latency, _)
   local totals = { responses = 0, non2xx = 0, unexpected = 0, wrapped = 0 }
   local sample = ""
   for _, thread in ipairs(threads) do
      for name, _ in pairs(totals) do
         totals[name] = totals[name] + thread:get(name)
      end
      if sample == "" then
         sample = thread:get("first_unexpected")
      end
   end
   local e = summary.errors
   io.write(string.format(
      "BENCH_RESULT {\"requests\":%d,\"duration_us\":%d,\"responses\":%d,\"non2xx\":%d," ..
      "\"unexpected\":%d,\"wrapped\":%d,\"p50_us\":%d,\"p90_us\":%d,\"p99_us\":%d," ..
      "\"max_us\":%d,\"errors\":{\"connect\":%d,\"read\":%d,\"write\":%d,\"timeout\":%d}," ..
      "\"sample\":%s}\n",
      summary.requests, summary.duration, totals.responses, totals.non2xx, totals.unexpected,
      totals.wrapped, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, e.connect, e.read, e.write, e.timeout, quoted(sample)))
end
