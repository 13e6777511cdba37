/**
 * Limits and routing at the HTTP layer, on both bindings: the body size limit (HTTP 413,
 * decided from Content-Length before the body is read), unknown agents and routes, and
 * v0.3 method names when v0.3 compatibility is off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../../helpers/server.js';
import {
  A2A_DOMAIN,
  ERROR_INFO_TYPE,
  expectRestError,
  expectRpcError,
  messageJson,
  postRpc,
  rawExchange,
  readResponse,
  rest,
  rpc,
  rpcBody,
} from '../../helpers/wire.js';

const LIMIT = 64 * 1024;

describe('body size limit (bodyLimitBytes 64 KiB)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ server: { bodyLimitBytes: LIMIT } });
  });
  afterAll(() => t.close());

  /** A SendMessage whose text makes the JSON body about `bytes` long. */
  const bigSend = (bytes: number): Record<string, unknown> => ({ message: messageJson('x'.repeat(bytes)) });

  it('a body just under the limit is accepted on both bindings', async () => {
    const r1 = await rpc(t.url, 'echo', 'SendMessage', bigSend(LIMIT - 1024));
    expect(r1.status).toBe(200);
    expect(r1.json.result.task.status.state).toBe('TASK_STATE_COMPLETED');
    const r2 = await rest(t.url, 'echo', 'POST', '/message:send', bigSend(LIMIT - 1024));
    expect(r2.status).toBe(200);
    expect(r2.json.task.status.state).toBe('TASK_STATE_COMPLETED');
  });

  it('JSON-RPC: a body over the limit → HTTP 413 with a JSON-RPC error body', async () => {
    const res = await postRpc(t.url, 'echo', rpcBody('SendMessage', bigSend(LIMIT + 1024), 5));
    expectRpcError(res, {
      http: 413,
      code: -32600,
      reason: 'PAYLOAD_TOO_LARGE',
      messageIncludes: [String(LIMIT)],
    });
    expect(res.json.error.data[0].metadata.limitBytes).toBe(String(LIMIT));
  });

  it('HTTP+JSON: a body over the limit → HTTP 413 google.rpc.Status', async () => {
    const res = await rest(t.url, 'echo', 'POST', '/message:send', bigSend(LIMIT + 1024));
    expectRestError(res, {
      http: 413,
      status: 'RESOURCE_EXHAUSTED',
      reason: 'PAYLOAD_TOO_LARGE',
      messageIncludes: [String(LIMIT)],
    });
  });

  it('HTTP+JSON streaming: a body over the limit → HTTP 413, not a stream', async () => {
    const res = await rest(t.url, 'echo', 'POST', '/message:stream', bigSend(LIMIT + 1024));
    expectRestError(res, { http: 413, status: 'RESOURCE_EXHAUSTED', reason: 'PAYLOAD_TOO_LARGE' });
  });

  for (const [binding, path] of [
    ['JSON-RPC', '/a2a/echo/'],
    ['HTTP+JSON', '/a2a/echo/rest/message:send'],
  ] as const) {
    it(`${binding}: Content-Length over the limit → 413 without reading the body`, async () => {
      // Announce 100 MB, send 20 bytes and nothing more: only a server that decides from
      // the header can answer at all.
      const head =
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Content-Length: 100000000\r\n\r\n`;
      const res = await rawExchange(t.url, head, '{"jsonrpc":"2.0","id"');
      expect(res.statusLine).toMatch(/^HTTP\/1\.1 413 /);
      const body = JSON.parse(res.body);
      const info = binding === 'JSON-RPC' ? body.error.data[0] : body.error.details[0];
      expect(info).toMatchObject({
        '@type': ERROR_INFO_TYPE,
        reason: 'PAYLOAD_TOO_LARGE',
        domain: A2A_DOMAIN,
      });
      if (binding === 'JSON-RPC')
        expect(body).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32600 } });
      else expect(body.error).toMatchObject({ code: 413, status: 'RESOURCE_EXHAUSTED' });
    });
  }

  it('the server keeps serving after refusing oversized bodies', async () => {
    const res = await rpc(t.url, 'echo', 'SendMessage', { message: messageJson('still here') });
    expect(res.json.result.task.status.state).toBe('TASK_STATE_COMPLETED');
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
  });
});

describe('unknown agents and routes', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(() => t.close());

  it('JSON-RPC to an unknown agent → HTTP 404 naming the agent and the ones that exist', async () => {
    const res = await postRpc(t.url, 'ghost', rpcBody('SendMessage', { message: messageJson('x') }, 'r1'));
    expectRpcError(res, {
      http: 404,
      code: -32050,
      reason: 'AGENT_NOT_FOUND',
      id: 'r1',
      messageIncludes: ['"ghost"', 'echo', 'countdown'],
    });
    expect(res.json.error.data[0].metadata.agent).toBe('ghost');
  });

  it('HTTP+JSON to an unknown agent → HTTP 404 naming the agent', async () => {
    const res = await rest(t.url, 'ghost', 'POST', '/message:send', { message: messageJson('x') });
    expectRestError(res, {
      http: 404,
      status: 'NOT_FOUND',
      reason: 'AGENT_NOT_FOUND',
      messageIncludes: ['"ghost"'],
    });
    expect(res.json.error.details[0].metadata.agent).toBe('ghost');
  });

  it('the card of an unknown agent → HTTP 404 naming the agent', async () => {
    const res = await readResponse(await fetch(`${t.url}/a2a/ghost/.well-known/agent-card.json`));
    expectRestError(res, {
      http: 404,
      status: 'NOT_FOUND',
      reason: 'AGENT_NOT_FOUND',
      messageIncludes: ['"ghost"'],
    });
  });

  it('an unknown HTTP+JSON route → 404 ROUTE_NOT_FOUND; GET on the JSON-RPC endpoint → 404', async () => {
    expectRestError(await rest(t.url, 'echo', 'POST', '/tasks/abc/frobnicate', {}), {
      http: 404,
      status: 'UNIMPLEMENTED',
      reason: 'ROUTE_NOT_FOUND',
    });
    const res = await readResponse(await fetch(`${t.url}/a2a/echo/`));
    expectRestError(res, {
      http: 404,
      status: 'UNIMPLEMENTED',
      reason: 'ROUTE_NOT_FOUND',
      messageIncludes: ['GET /a2a/echo/'],
    });
  });
});

describe('v0.3 method names', () => {
  const v03Send = {
    message: {
      kind: 'message',
      messageId: 'legacy-1',
      role: 'user',
      parts: [{ kind: 'text', text: 'hi from 0.3' }],
    },
  };

  describe('with compatV03: false', () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startServer({ server: { compatV03: false } });
    });
    afterAll(() => t.close());

    it('message/send → -32009 VERSION_NOT_SUPPORTED naming the method and v0.3', async () => {
      const res = await postRpc(t.url, 'echo', rpcBody('message/send', v03Send, 3));
      expectRpcError(res, {
        code: -32009,
        reason: 'VERSION_NOT_SUPPORTED',
        id: 3,
        messageIncludes: ['message/send', 'v0.3'],
      });
    });

    it('tasks/get and message/stream → the same error (no stream is opened)', async () => {
      expectRpcError(await rpc(t.url, 'echo', 'tasks/get', { id: 'x' }), {
        code: -32009,
        reason: 'VERSION_NOT_SUPPORTED',
        messageIncludes: ['tasks/get'],
      });
      expectRpcError(await rpc(t.url, 'echo', 'message/stream', v03Send), {
        code: -32009,
        reason: 'VERSION_NOT_SUPPORTED',
      });
    });

    it('A2A-Version: 0.3 → the same error', async () => {
      const res = await rpc(
        t.url,
        'echo',
        'SendMessage',
        { message: messageJson('x') },
        { 'a2a-version': '0.3' },
      );
      expectRpcError(res, { code: -32009, reason: 'VERSION_NOT_SUPPORTED', messageIncludes: ['v0.3'] });
    });

    it('v1.0 calls still work, and the card advertises no v0.3 interface', async () => {
      const res = await rpc(t.url, 'echo', 'SendMessage', { message: messageJson('x') });
      expect(res.json.result.task.status.state).toBe('TASK_STATE_COMPLETED');
      const card = (await readResponse(await fetch(`${t.url}/a2a/echo/.well-known/agent-card.json`))).json;
      expect(card.supportedInterfaces.length).toBeGreaterThan(0);
      expect(
        card.supportedInterfaces.map((i: { protocolVersion: string }) => i.protocolVersion),
      ).not.toContain('0.3');
    });
  });

  describe('with compatV03 on (the default)', () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startServer();
    });
    afterAll(() => t.close());

    it('message/send is served in the v0.3 shape (so the error above is about compat only)', async () => {
      const res = await postRpc(t.url, 'echo', rpcBody('message/send', v03Send, 4));
      expect(res.status).toBe(200);
      expect(res.json.id).toBe(4);
      expect(res.json.error).toBeUndefined();
      expect(res.json.result).toMatchObject({ kind: 'task', status: { state: 'completed' } });
    });
  });
});
