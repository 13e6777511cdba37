-- Shared wrk hooks, loaded by the request scripts beside this file.
-- A2A errors can travel as HTTP 200 (JSON-RPC), which wrk does not count as
-- errors: count every response that is not a completed task and report the
-- total on a line the harness parses (bench/lib/wrk.ts).
-- Every request gets its own messageId ("m-1" in the body becomes "m-<thread>-<n>"):
-- a server that remembers messageIds answers a repeated one without running the agent,
-- which would not be the same work.
local threads = {}
local next_thread = 0

function setup(thread)
  next_thread = next_thread + 1
  thread:set('thread_id', next_thread)
  table.insert(threads, thread)
end

function init(args)
  unexpected = 0
  sent = 0
  prefix, suffix = wrk.body:match('^(.-"m%-)1(".*)$')
end

function request()
  sent = sent + 1
  return wrk.format(nil, nil, nil, prefix .. thread_id .. '-' .. sent .. suffix)
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
