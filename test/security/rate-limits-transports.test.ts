/**
 * Rate limits as clients see them on every transport, on the embedded store: HTTP 429 with
 * Retry-After and RATE_LIMITED in the binding's shape, gRPC RESOURCE_EXHAUSTED with
 * ErrorInfo and RetryInfo, per-agent limits, per-principal limits, probes never limited.
 * The server trusts one proxy hop of X-Forwarded-For (`trustProxy: true`), so each test is its
 * own client address.
 */
import { Writable } from 'node:stream';
import { BinaryReader } from '@bufbuild/protobuf/wire';
import * as grpc from '@grpc/grpc-js';
import { decodeStatus, GRPC_STATUS_DETAILS_BIN } from '@a2a-js/sdk/errors/grpc';
import { LegacyA2AService } from '@a2a-js/sdk/compat/v0_3/server/grpc';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { RETRY_INFO_TYPE } from '../../src/protocol/grpc/grpc-rate-limit.js';
import type { Principal } from '../../src/security/principal.js';
import { AgentdServer } from '../../src/server/agentd-server.js';
import { expectGrpcError, RawGrpcClient } from '../helpers/grpc.js';
import { DEMO_AGENTS } from '../helpers/server.js';
import {
  expectRestError,
  expectRpcError,
  readResponse,
  rest,
  rpc,
  type WireResponse,
} from '../helpers/wire.js';

/** A slow refill (one token per 100 s), so nothing comes back while a test runs. */
const SLOW = 0.01;

let server: AgentdServer;
let url: string;
let grpcClient: RawGrpcClient;

beforeAll(async () => {
  const config = configSchema.parse({
    agents: DEMO_AGENTS,
    server: { host: '127.0.0.1', httpPort: 0, grpcPort: 0 },
    prometheus: { port: 0 },
    rateLimits: {
      trustProxy: true,
      perIp: { ratePerSecond: SLOW, burst: 3 },
      perPrincipal: { ratePerSecond: SLOW, burst: 2 },
      agents: { countdown: { perIp: { ratePerSecond: SLOW, burst: 1 } } },
    },
  });
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  server = await AgentdServer.create(config, pino({ level: 'silent' }, sink), process.cwd());
  // Stands in for the authentication hook, added after the rate limit's hooks: it sets
  // request.principal (which the per-principal limit must see) or refuses the request
  // (which must still have counted for its address).
  const app = (server as unknown as { http: { app: FastifyInstance } }).http.app;
  app.addHook('onRequest', (request, reply, done) => {
    if (request.headers['x-test-reject'] !== undefined) {
      void reply.code(401).send({ refused: true }); // authentication refusing the request
      return;
    }
    const id = request.headers['x-test-principal'];
    if (typeof id === 'string') {
      const principal: Principal = { id, scheme: 'apiKey', scopes: new Set(['*']), admin: false };
      request.principal = principal;
    }
    done();
  });
  ({ url } = await server.start());
  grpcClient = new RawGrpcClient(server.grpcAddress as string);
}, 60_000);
afterAll(async () => {
  grpcClient?.close();
  await server?.shutdown(1000, 0);
});

const from = (ip: string, extra: Record<string, string> = {}): Record<string, string> => ({
  'x-forwarded-for': ip,
  ...extra,
});

function expectRetryAfter(res: WireResponse): void {
  const value = res.headers.get('retry-after');
  expect(value, res.text).toMatch(/^\d+$/);
  // The bucket refills one token per 100 s: the wait is about that, rounded up.
  expect(Number(value)).toBeGreaterThanOrEqual(99);
  expect(Number(value)).toBeLessThanOrEqual(100);
}

describe('HTTP', () => {
  it('JSON-RPC: the burst goes through, then 429 with Retry-After and a JSON-RPC RATE_LIMITED error', async () => {
    const ip = '198.51.100.1';
    for (let i = 0; i < 3; i++) {
      expectRpcError(await rpc(url, 'echo', 'GetTask', { id: 'no-such-task' }, from(ip)), {
        code: -32001,
        reason: 'TASK_NOT_FOUND',
      });
    }
    const refused = await rpc(url, 'echo', 'GetTask', { id: 'no-such-task' }, from(ip));
    expectRpcError(refused, { code: -32072, reason: 'RATE_LIMITED', http: 429 });
    expectRetryAfter(refused);
    expect(refused.json.error.data[0].metadata).toMatchObject({
      limit: 'ip',
      retryable: 'true',
      retryAfterSeconds: refused.headers.get('retry-after'),
    });
    // Another address is not affected.
    expectRpcError(await rpc(url, 'echo', 'GetTask', { id: 'no-such-task' }, from('198.51.100.2')), {
      code: -32001,
      reason: 'TASK_NOT_FOUND',
    });
  });

  it('REST: 429 with Retry-After and the google.rpc.Status RATE_LIMITED body', async () => {
    const ip = '198.51.100.3';
    for (let i = 0; i < 3; i++) {
      expectRestError(await rest(url, 'echo', 'GET', '/tasks/no-such-task', undefined, from(ip)), {
        http: 404,
        status: 'NOT_FOUND',
        reason: 'TASK_NOT_FOUND',
      });
    }
    const refused = await rest(url, 'echo', 'GET', '/tasks/no-such-task', undefined, from(ip));
    expectRestError(refused, { http: 429, status: 'RESOURCE_EXHAUSTED', reason: 'RATE_LIMITED' });
    expectRetryAfter(refused);
    // Cards and the directory count too (every path but the probes).
    const card = await readResponse(await fetch(`${url}/.well-known/agent-card.json`, { headers: from(ip) }));
    expect(card.status).toBe(429);
  });

  it('never limits the probes', async () => {
    const ip = '198.51.100.4';
    for (let i = 0; i < 4; i++) await rest(url, 'echo', 'GET', '/tasks/x', undefined, from(ip));
    expect((await rest(url, 'echo', 'GET', '/tasks/x', undefined, from(ip))).status).toBe(429);
    for (const path of ['/health', '/ready', '/startup']) {
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${url}${path}`, { headers: from(ip) });
        await res.text();
        expect(res.status, path).toBe(200);
      }
    }
  });

  it("an agent's own limit applies to that agent only", async () => {
    const ip = '198.51.100.5';
    expectRpcError(await rpc(url, 'countdown', 'GetTask', { id: 'x' }, from(ip)), {
      code: -32001,
      reason: 'TASK_NOT_FOUND',
    });
    const refused = await rpc(url, 'countdown', 'GetTask', { id: 'x' }, from(ip));
    expectRpcError(refused, {
      code: -32072,
      reason: 'RATE_LIMITED',
      http: 429,
      messageIncludes: ['countdown'],
    });
    expect(refused.json.error.data[0].metadata).toMatchObject({ limit: 'ip', agent: 'countdown' });
    // echo still has the two server-wide tokens countdown's refused call did not use.
    for (let i = 0; i < 2; i++) {
      expect((await rest(url, 'echo', 'GET', '/tasks/x', undefined, from(ip))).status).toBe(404);
    }
    expect((await rest(url, 'echo', 'GET', '/tasks/x', undefined, from(ip))).status).toBe(429);
  });

  it('limits a principal across addresses, after authentication has named it', async () => {
    const who = { 'x-test-principal': 'alice' };
    expect((await rest(url, 'echo', 'GET', '/tasks/x', undefined, from('198.51.100.6', who))).status).toBe(
      404,
    );
    expect((await rest(url, 'echo', 'GET', '/tasks/x', undefined, from('198.51.100.7', who))).status).toBe(
      404,
    );
    const refused = await rest(url, 'echo', 'GET', '/tasks/x', undefined, from('198.51.100.8', who));
    expectRestError(refused, { http: 429, status: 'RESOURCE_EXHAUSTED', reason: 'RATE_LIMITED' });
    expect(refused.json.error.details[0].metadata.limit).toBe('principal');
    expect(refused.text).not.toContain('alice');
    // The same address with another principal is fine.
    const bob = from('198.51.100.8', { 'x-test-principal': 'bob' });
    expect((await rest(url, 'echo', 'GET', '/tasks/x', undefined, bob)).status).toBe(404);
  });

  it('counts requests authentication refuses against their address', async () => {
    const refusedByAuth = from('198.51.100.9', { 'x-test-reject': '1' });
    for (let i = 0; i < 3; i++) {
      expect((await rest(url, 'echo', 'GET', '/tasks/x', undefined, refusedByAuth)).status).toBe(401);
    }
    const limited = await rest(url, 'echo', 'GET', '/tasks/x', undefined, refusedByAuth);
    expectRestError(limited, { http: 429, status: 'RESOURCE_EXHAUSTED', reason: 'RATE_LIMITED' });
    expectRetryAfter(limited);
  });

  it('counts by the address the proxy appended, whatever the client prepends to X-Forwarded-For', async () => {
    const spoofed = (i: number): Record<string, string> => ({
      'x-forwarded-for': `192.0.2.${i}, 10.${i}.0.1, 198.51.100.30`,
    });
    for (let i = 0; i < 3; i++) {
      expect((await rest(url, 'echo', 'GET', '/tasks/x', undefined, spoofed(i))).status).toBe(404);
    }
    const refused = await rest(url, 'echo', 'GET', '/tasks/x', undefined, spoofed(3));
    expectRestError(refused, { http: 429, status: 'RESOURCE_EXHAUSTED', reason: 'RATE_LIMITED' });
  });

  it('counts refusals in agentd_rate_limited_total with bounded labels', async () => {
    const text = await server.metrics?.exposition();
    expect(text).toMatch(/agentd_rate_limited_total\{limit="ip",agent=""\} [1-9]/);
    expect(text).toMatch(/agentd_rate_limited_total\{limit="ip",agent="countdown"\} [1-9]/);
    expect(text).toMatch(/agentd_rate_limited_total\{limit="principal",agent=""\} [1-9]/);
    expect(text).toContain('agentd_rate_limit_store_errors_total 0');
  });
});

/** The seconds of the `google.rpc.RetryInfo` in a gRPC error's status details. */
function retryInfoSeconds(error: grpc.ServiceError): number {
  const bin = error.metadata.get(GRPC_STATUS_DETAILS_BIN)[0] as Buffer;
  const info = decodeStatus(Buffer.from(bin)).details.find((d) => d.typeUrl === RETRY_INFO_TYPE);
  if (!info) throw new Error('no RetryInfo in grpc-status-details-bin');
  // RetryInfo { Duration retry_delay = 1 }, Duration { int64 seconds = 1; int32 nanos = 2 }.
  const outer = new BinaryReader(info.value);
  expect(outer.tag()).toEqual([1, 2]);
  const duration = new BinaryReader(outer.bytes());
  expect(duration.tag()).toEqual([1, 0]);
  return Number(duration.int64());
}

describe('gRPC', () => {
  it('unary: RESOURCE_EXHAUSTED with ErrorInfo RATE_LIMITED and RetryInfo', async () => {
    const options = { metadata: from('203.0.113.1') };
    for (let i = 0; i < 3; i++) {
      const e = await grpcClient.unaryError(
        'getTask',
        { tenant: 'echo', id: 'x', historyLength: undefined },
        options,
      );
      expect(grpc.status[e.code]).toBe('NOT_FOUND');
    }
    const refused = await grpcClient.unaryError(
      'getTask',
      { tenant: 'echo', id: 'x', historyLength: undefined },
      options,
    );
    expectGrpcError(refused, {
      code: grpc.status.RESOURCE_EXHAUSTED,
      reason: 'RATE_LIMITED',
      metadata: { limit: 'ip', retryable: 'true' },
    });
    const seconds = retryInfoSeconds(refused);
    expect(seconds).toBeGreaterThanOrEqual(99);
    expect(seconds).toBeLessThanOrEqual(100);
  });

  it('streaming: the stream fails with RESOURCE_EXHAUSTED and RetryInfo before any event', async () => {
    const options = { metadata: from('203.0.113.2') };
    for (let i = 0; i < 3; i++) {
      const { events, error } = await grpcClient
        .stream('subscribeToTask', { tenant: 'echo', id: 'x' }, options)
        .failure();
      expect(events).toEqual([]);
      expect(grpc.status[error.code]).toBe('NOT_FOUND');
    }
    const { events, error } = await grpcClient
      .stream('subscribeToTask', { tenant: 'echo', id: 'x' }, options)
      .failure();
    expect(events).toEqual([]);
    expectGrpcError(error, { code: grpc.status.RESOURCE_EXHAUSTED, reason: 'RATE_LIMITED' });
    expect(retryInfoSeconds(error)).toBeGreaterThanOrEqual(99);
  });

  it('counts by the address the proxy appended, whatever the client prepends to x-forwarded-for', async () => {
    const request = { tenant: 'echo', id: 'x', historyLength: undefined };
    const spoofed = (i: number) => ({ metadata: { 'x-forwarded-for': `192.0.2.${i}, 203.0.113.30` } });
    for (let i = 0; i < 3; i++) {
      expect(grpc.status[(await grpcClient.unaryError('getTask', request, spoofed(i))).code]).toBe(
        'NOT_FOUND',
      );
    }
    expectGrpcError(await grpcClient.unaryError('getTask', request, spoofed(3)), {
      code: grpc.status.RESOURCE_EXHAUSTED,
      reason: 'RATE_LIMITED',
      metadata: { limit: 'ip' },
    });
  });

  it('calls refused before they resolve (unknown tenant) still count for their address', async () => {
    const options = { metadata: from('203.0.113.4') };
    for (let i = 0; i < 3; i++) {
      const e = await grpcClient.unaryError(
        'getTask',
        { tenant: 'nope', id: 'x', historyLength: undefined },
        options,
      );
      expectGrpcError(e, { code: grpc.status.NOT_FOUND, reason: 'AGENT_NOT_FOUND' });
    }
    const refused = await grpcClient.unaryError(
      'getTask',
      { tenant: 'nope', id: 'x', historyLength: undefined },
      options,
    );
    expectGrpcError(refused, { code: grpc.status.RESOURCE_EXHAUSTED, reason: 'RATE_LIMITED' });
    const { error } = await grpcClient
      .stream('subscribeToTask', { tenant: 'nope', id: 'x' }, options)
      .failure();
    expectGrpcError(error, { code: grpc.status.RESOURCE_EXHAUSTED, reason: 'RATE_LIMITED' });
  });

  it('limits v0.3 clients of the legacy gRPC service too', async () => {
    const Legacy = grpc.makeGenericClientConstructor(LegacyA2AService, 'A2AService');
    const legacy = new Legacy(server.grpcAddress as string, grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    metadata.set('x-forwarded-for', '203.0.113.5');
    const getTask = (): Promise<grpc.ServiceError> =>
      new Promise((resolve, reject) =>
        legacy.makeUnaryRequest(
          LegacyA2AService.getTask.path,
          LegacyA2AService.getTask.requestSerialize,
          LegacyA2AService.getTask.responseDeserialize,
          { name: 'tasks/no-such-task', historyLength: 0 },
          metadata,
          {},
          (error: grpc.ServiceError | null) =>
            error ? resolve(error) : reject(new Error('expected an error')),
        ),
      );
    try {
      for (let i = 0; i < 3; i++) expect(grpc.status[(await getTask()).code]).toBe('NOT_FOUND');
      expectGrpcError(await getTask(), { code: grpc.status.RESOURCE_EXHAUSTED, reason: 'RATE_LIMITED' });
    } finally {
      legacy.close();
    }
  });

  it("an agent's own limit applies by tenant, and HTTP and gRPC share the buckets", async () => {
    const ip = '203.0.113.3';
    expectRpcError(await rpc(url, 'countdown', 'GetTask', { id: 'x' }, from(ip)), {
      code: -32001,
      reason: 'TASK_NOT_FOUND',
    });
    const refused = await grpcClient.unaryError(
      'getTask',
      { tenant: 'countdown', id: 'x', historyLength: undefined },
      { metadata: from(ip) },
    );
    expectGrpcError(refused, {
      code: grpc.status.RESOURCE_EXHAUSTED,
      reason: 'RATE_LIMITED',
      metadata: { agent: 'countdown' },
    });
  });
});
