-- Shared wrk hooks, loaded by the request scripts beside this file.
-- A2A errors can travel as HTTP 200 (JSON-RPC), which wrk does not count as
-- errors: count every response that is not a completed task and report the
-- total on a line the harness parses (bench/lib/wrk.ts).
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  unexpected = 0
end

function response(status, headers, body)
  if not string.find(body, 'TASK_STATE_COMPLETED', 1, true) then
    unexpected = unexpected + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get('unexpected')
  end
  io.write(string.format('Unexpected responses: %d\n', total))
end
