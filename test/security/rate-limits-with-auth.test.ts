/**
 * Rate limits behind real authentication (API keys): requests authentication refuses still
 * count against their address, and per-principal limits see the authenticated caller, on
 * HTTP and gRPC.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectGrpcError, RawGrpcClient } from '../helpers/grpc.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { expectRestError, rest } from '../helpers/wire.js';

const SLOW = 0.01;

describe('rate limits with API-key authentication', () => {
  let t: TestServer;
  let grpcClient: RawGrpcClient;
  beforeAll(async () => {
    t = await startServer({
      auth: { apiKeys: [{ key: 'alice-key', principal: 'alice', scopes: ['*'] }] },
      rateLimits: {
        trustProxy: true,
        perIp: { ratePerSecond: SLOW, burst: 3 },
        perPrincipal: { ratePerSecond: SLOW, burst: 2 },
      },
    });
    grpcClient = new RawGrpcClient(t.server.grpcAddress as string);
  });
  afterAll(async () => {
    grpcClient?.close();
    await t?.close();
  });

  it('HTTP: refused logins count against the address', async () => {
    const headers = { 'x-forwarded-for': '192.0.2.1', 'x-api-key': 'wrong' };
    for (let i = 0; i < 3; i++)
      expect((await rest(t.url, 'echo', 'GET', '/tasks/x', undefined, headers)).status).toBe(401);
    const limited = await rest(t.url, 'echo', 'GET', '/tasks/x', undefined, headers);
    expectRestError(limited, { http: 429, status: 'RESOURCE_EXHAUSTED', reason: 'RATE_LIMITED' });
  });

  it('HTTP: the authenticated principal is limited across addresses', async () => {
    const as = (ip: string) => ({ 'x-forwarded-for': ip, 'x-api-key': 'alice-key' });
    expect((await rest(t.url, 'echo', 'GET', '/tasks/x', undefined, as('192.0.2.2'))).status).toBe(404);
    expect((await rest(t.url, 'echo', 'GET', '/tasks/x', undefined, as('192.0.2.3'))).status).toBe(404);
    const limited = await rest(t.url, 'echo', 'GET', '/tasks/x', undefined, as('192.0.2.4'));
    expectRestError(limited, { http: 429, status: 'RESOURCE_EXHAUSTED', reason: 'RATE_LIMITED' });
    expect(limited.json.error.details[0].metadata.limit).toBe('principal');
  });

  it('gRPC: refused logins count against the address', async () => {
    const options = { metadata: { 'x-forwarded-for': '192.0.2.5', 'x-api-key': 'wrong' } };
    const req = { tenant: 'echo', id: 'x', historyLength: undefined };
    for (let i = 0; i < 3; i++) {
      expect(grpc.status[(await grpcClient.unaryError('getTask', req, options)).code]).toBe(
        'UNAUTHENTICATED',
      );
    }
    expectGrpcError(await grpcClient.unaryError('getTask', req, options), {
      code: grpc.status.RESOURCE_EXHAUSTED,
      reason: 'RATE_LIMITED',
    });
  });
});
