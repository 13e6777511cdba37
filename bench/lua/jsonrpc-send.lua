-- wrk script: JSON-RPC 2.0 SendMessage to an A2A v1.0 endpoint.
-- The body is a single-quoted literal; bench/http.ts reads it from here to
-- send the identical request when it verifies a server's semantics.
wrk.method = 'POST'
wrk.headers['Content-Type'] = 'application/json'
wrk.headers['A2A-Version'] = '1.0'
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{"message":{"messageId":"m-1","role":"ROLE_USER","parts":[{"text":"hello bench"}]}}}'

-- JSON-RPC errors travel as HTTP 200, which wrk does not count as errors:
-- count every response that is not a completed task and report the total.
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
