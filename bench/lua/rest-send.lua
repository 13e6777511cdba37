-- wrk script: HTTP+JSON (REST) SendMessage (POST .../message:send) to an A2A v1.0 endpoint.
-- The body is a single-quoted literal; the harness reads it from here to
-- send the identical request when it verifies a server's semantics.
wrk.method = 'POST'
wrk.headers['Content-Type'] = 'application/a2a+json'
wrk.headers['A2A-Version'] = '1.0'
wrk.body = '{"message":{"messageId":"m-1","role":"ROLE_USER","parts":[{"text":"hello bench"}]}}'

dofile((debug.getinfo(1, 'S').source:match('^@(.*/)') or './') .. 'expect-completed.lua')
