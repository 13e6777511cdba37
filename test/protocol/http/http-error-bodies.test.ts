/**
 * Every HTTP error answer is the binding's own shape from the catalogue — a JSON-RPC error
 * on the JSON-RPC endpoint, `google.rpc.Status` elsewhere — including the errors fastify
 * and Node raise before a route runs (bad %-encoding, an overlong path segment, a request
 * line or header block over the limit, broken framing), which also close the connection.
 * Repeated or mistyped parameters are the client's error, naming the parameter, never a 500;
 * a real INTERNAL is logged at error level with its request id and stack.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthChecker } from '../../../src/observability/health-checker.js';
import { Tracing } from '../../../src/observability/tracing.js';
import { createHttpServer, type HttpServer } from '../../../src/protocol/http/http-server.js';
import type { TaskEngine } from '../../../src/engine/task-engine.js';
import type { HostedAgent } from '../../../src/engine/hosted-agent.js';
import { startServer, type TestServer } from '../../helpers/server.js';
import {
  A2A_DOMAIN,
  ERROR_INFO_TYPE,
  expectRestError,
  expectRpcError,
  postRpc,
  rawExchange,
  readResponse,
  rest,
  rpcBody,
} from '../../helpers/wire.js';

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
});
afterAll(() => t.close());

describe('repeated query parameters → 400 INVALID_PARAMS naming the parameter', () => {
  const cases: Array<[string, string]> = [
    ['/tasks/abc?historyLength=1&historyLength=1', 'historyLength'],
    ['/tasks?pageSize=1&pageSize=2', 'pageSize'],
    ['/tasks?historyLength=1&historyLength=2', 'historyLength'],
    ['/tasks?status=TASK_STATE_COMPLETED&status=TASK_STATE_FAILED', 'status'],
    ['/tasks?includeArtifacts=true&includeArtifacts=false', 'includeArtifacts'],
    ['/tasks?contextId=a&contextId=b', 'contextId'],
    ['/tasks?pageToken=a&pageToken=b', 'pageToken'],
    ['/tasks?statusTimestampAfter=2020-01-01T00:00:00Z&statusTimestampAfter=x', 'statusTimestampAfter'],
    ['/tasks/abc?A2A-Version=1.0&A2A-Version=1.0', 'A2A-Version'],
  ];
  for (const [path, field] of cases) {
    it(`GET ${path}`, async () => {
      expectRestError(await rest(t.url, 'echo', 'GET', path), {
        http: 400,
        status: 'INVALID_ARGUMENT',
        reason: 'INVALID_PARAMS',
        field,
        messageIncludes: ['once'],
      });
    });
  }

  it('GET /api/v1/agents?capability=a&capability=b', async () => {
    expectRestError(await readResponse(await fetch(`${t.url}/api/v1/agents?capability=a&capability=b`)), {
      http: 400,
      status: 'INVALID_ARGUMENT',
      reason: 'INVALID_PARAMS',
      field: 'capability',
    });
  });
});

describe('v0.3 JSON-RPC with parameters of the wrong type → -32602 naming the field', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['tasks/resubscribe', { id: 5 }, 'id'],
    ['tasks/get', { id: 5 }, 'id'],
    ['tasks/get', { id: 'x', historyLength: 'many' }, 'historyLength'],
    ['tasks/cancel', { id: {} }, 'id'],
    [
      'tasks/pushNotificationConfig/get',
      { id: 'x', pushNotificationConfigId: 3 },
      'pushNotificationConfigId',
    ],
    ['tasks/pushNotificationConfig/set', { taskId: 7, pushNotificationConfig: { url: 'x' } }, 'taskId'],
    ['message/send', { message: 'hi' }, 'message'],
    ['message/stream', { message: { messageId: 'm', taskId: 1, role: 'user', parts: [] } }, 'message.taskId'],
  ];
  for (const [method, params, field] of cases) {
    it(`${method} ${JSON.stringify(params)}`, async () => {
      expectRpcError(await postRpc(t.url, 'echo', rpcBody(method, params, 9)), {
        code: -32602,
        reason: 'INVALID_PARAMS',
        id: 9,
        field,
      });
    });
  }
});

describe("fastify's own errors in the catalogue's shape", () => {
  it('bad %-encoding in a REST path → 400 INVALID_REQUEST google.rpc.Status', async () => {
    const res = await readResponse(await fetch(`${t.url}/a2a/echo/rest/tasks/%E0%A4%A`));
    expectRestError(res, { http: 400, status: 'INVALID_ARGUMENT', reason: 'INVALID_REQUEST' });
  });

  it('bad %-encoding on the JSON-RPC endpoint → HTTP 400 with a JSON-RPC error', async () => {
    const res = await readResponse(
      await fetch(`${t.url}/a2a/%ZZ/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(rpcBody('GetTask', { id: 'x' })),
      }),
    );
    expectRpcError(res, { http: 400, code: -32600, reason: 'INVALID_REQUEST', id: null });
  });

  it('a path segment longer than the router allows → 414 URI_TOO_LONG', async () => {
    const res = await readResponse(await fetch(`${t.url}/a2a/${'a'.repeat(150)}/rest/tasks`));
    expectRestError(res, { http: 414, status: 'RESOURCE_EXHAUSTED', reason: 'URI_TOO_LONG' });
    expect(res.text.length).toBeLessThan(1024);
  });
});

describe("Node's client errors: a proper response with the catalogue body, then the connection closes", () => {
  const head = (requestLine: string, extra = ''): string =>
    `${requestLine}\r\nHost: 127.0.0.1\r\n${extra}\r\n`;
  const cases: Array<{
    name: string;
    data: string;
    status: number;
    reason: string;
    binding: 'rest' | 'jsonrpc';
  }> = [
    {
      name: 'a request line over the header limit → 414 URI_TOO_LONG',
      data: head(`GET /a2a/echo/rest/tasks?x=${'a'.repeat(20_000)} HTTP/1.1`),
      status: 414,
      reason: 'URI_TOO_LONG',
      binding: 'rest',
    },
    {
      name: 'headers over the limit → 431 HEADERS_TOO_LARGE',
      data: head('GET /health HTTP/1.1', `X-Big: ${'a'.repeat(20_000)}\r\n`),
      status: 431,
      reason: 'HEADERS_TOO_LARGE',
      binding: 'rest',
    },
    {
      name: 'headers over the limit on the JSON-RPC endpoint → 431 as a JSON-RPC error',
      data: head('POST /a2a/echo/ HTTP/1.1', `X-Big: ${'a'.repeat(20_000)}\r\n`),
      status: 431,
      reason: 'HEADERS_TOO_LARGE',
      binding: 'jsonrpc',
    },
    {
      name: 'a Content-Length that is not a number → 400 INVALID_REQUEST',
      data: head('POST /a2a/echo/rest/message:send HTTP/1.1', 'Content-Length: abc\r\n'),
      status: 400,
      reason: 'INVALID_REQUEST',
      binding: 'rest',
    },
    {
      name: 'bytes that are not HTTP at all → 400 INVALID_REQUEST',
      data: '\x00\x01hello\r\n\r\n',
      status: 400,
      reason: 'INVALID_REQUEST',
      binding: 'rest',
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const res = await rawExchange(t.url, c.data, '');
      expect(res.statusLine).toMatch(new RegExp(`^HTTP/1\\.1 ${c.status} `));
      expect(res.headers.connection).toBe('close');
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const body = JSON.parse(res.body);
      const info = { '@type': ERROR_INFO_TYPE, reason: c.reason, domain: A2A_DOMAIN };
      if (c.binding === 'jsonrpc') {
        expect(Object.keys(body).sort()).toEqual(['error', 'id', 'jsonrpc']);
        expect(body).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32600 } });
        expect(body.error.data[0]).toMatchObject(info);
      } else {
        expect(Object.keys(body.error).sort()).toEqual(['code', 'details', 'message', 'status']);
        expect(body.error.code).toBe(c.status);
        expect(body.error.details[0]).toMatchObject(info);
      }
    });
  }

  it('the server keeps serving afterwards', async () => {
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
  });
});

describe('an INTERNAL error is logged with its request id and stack', () => {
  let http: HttpServer;
  let url: string;
  const logs: Array<Record<string, unknown>> = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString('utf8').split('\n'))
          if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
        cb();
      },
    });
    // An engine with a bug: every agent lookup throws a TypeError.
    const engine = {
      agent: () => {
        throw new TypeError('kaboom in the engine');
      },
    } as unknown as TaskEngine;
    http = createHttpServer({
      a2a: true,
      engine,
      logger: pino({ level: 'info' }, sink),
      sseKeepAliveMs: 15_000,
      compatV03: true,
      tracing: Tracing.off,
      bodyLimitBytes: 1024 * 1024,
      health: new HealthChecker(),
      defaultAgent: () => ({}) as HostedAgent,
      discover: async () => [],
      serverId: 'test',
      metrics: undefined,
      mcp: false,
      cardsPublished: Promise.resolve(),
      draining: () => false,
    });
    url = await http.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(() => http.app.close());

  const expectLogged = (requestId: string | null): void => {
    const line = logs.find((l) => l.request_id === requestId);
    expect(line, JSON.stringify(logs)).toBeDefined();
    expect(line?.level).toBe(50);
    expect((line?.err as { stack?: string } | undefined)?.stack).toContain('kaboom in the engine');
  };

  it('on HTTP+JSON', async () => {
    const res = await rest(url, 'echo', 'GET', '/tasks', undefined, { 'x-request-id': 'req-rest-1' });
    expectRestError(res, { http: 500, status: 'INTERNAL', reason: 'INTERNAL_ERROR' });
    expect(res.text).not.toContain('kaboom');
    expectLogged(res.headers.get('x-request-id'));
  });

  it('on JSON-RPC', async () => {
    const res = await postRpc(url, 'echo', rpcBody('GetTask', { id: 'x' }, 4), {
      'x-request-id': 'req-rpc-1',
    });
    expectRpcError(res, { http: 500, code: -32603, reason: 'INTERNAL_ERROR', id: 4 });
    expect(res.text).not.toContain('kaboom');
    expectLogged('req-rpc-1');
  });
});
