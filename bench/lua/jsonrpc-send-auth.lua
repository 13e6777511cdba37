-- wrk script: JSON-RPC 2.0 SendMessage with one credential header, taken from the
-- environment (BENCH_AUTH_HEADER / BENCH_AUTH_VALUE; none when unset): bench/auth.ts.
wrk.method = 'POST'
wrk.headers['Content-Type'] = 'application/json'
wrk.headers['A2A-Version'] = '1.0'
local auth_header = os.getenv('BENCH_AUTH_HEADER')
if auth_header and auth_header ~= '' then wrk.headers[auth_header] = os.getenv('BENCH_AUTH_VALUE') end
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{"message":{"messageId":"m-1","role":"ROLE_USER","parts":[{"text":"hello bench"}]}}}'

dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'expect-completed.lua')
