/**
 * The issuer rotates its signing key while agentd runs: a token with the new `kid` makes
 * agentd refetch the JWKS (once per cooldown, not once per request), tokens of the retired
 * key stop working as soon as agentd has the new set (verified-token cache included), and
 * no restart is needed. Discovery finds the JWKS from the issuer's OIDC metadata.
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { expectGrpcError, RawGrpcClient } from '../helpers/grpc.js';
import { sendRequest } from '../helpers/sdk-client.js';
import { eventually, startServer, type TestServer } from '../helpers/server.js';
import { expectRestError, messageJson, rest, rpc } from '../helpers/wire.js';
import { ISSUER_AUDIENCE, TestIssuer } from './issuer.js';

let issuer: TestIssuer | undefined;
let t: TestServer | undefined;
afterEach(async () => {
  await t?.close();
  await issuer?.close();
  t = issuer = undefined;
});

const send = async (server: TestServer, token: string): Promise<number> =>
  (
    await rpc(
      server.url,
      'echo',
      'SendMessage',
      { message: messageJson('hi') },
      { authorization: `Bearer ${token}` },
    )
  ).status;

describe('JWKS key rotation', () => {
  it('old tokens fail after the key is retired, new ones pass, without a restart', async () => {
    issuer = await TestIssuer.start();
    t = await startServer({
      auth: { jwt: { jwksUrl: issuer.jwksUrl, audience: ISSUER_AUDIENCE, jwksCooldownSeconds: 0 } },
    });
    const oldKid = issuer.kids[0] as string;
    const oldToken = await issuer.token({});
    expect(await send(t, oldToken)).toBe(200);
    expect(await send(t, oldToken)).toBe(200); // cached: no second verification, no refetch
    expect(issuer.jwksFetches).toBe(1);

    await issuer.rotate();
    issuer.retire(oldKid);
    const newToken = await issuer.token({});
    expect(await send(t, newToken)).toBe(200);
    expect(issuer.jwksFetches).toBe(2);
    // The set changed: the verified-token cache was dropped, and the retired key is gone.
    expect(await send(t, oldToken)).toBe(401);
    expect(await send(t, newToken)).toBe(200);

    // The same on REST and gRPC: the retired key's token is refused, the new one served.
    const message = { message: messageJson('hi') };
    const server = t;
    const restSend = (token: string) =>
      rest(server.url, 'echo', 'POST', '/message:send', message, { authorization: `Bearer ${token}` });
    expectRestError(await restSend(oldToken), {
      http: 401,
      status: 'UNAUTHENTICATED',
      reason: 'UNAUTHENTICATED',
    });
    expect((await restSend(newToken)).json.task.status.state).toBe('TASK_STATE_COMPLETED');
    const raw = new RawGrpcClient(t.server.grpcAddress as string);
    try {
      const request = { ...sendRequest('hi'), tenant: 'echo' };
      expectGrpcError(
        await raw.unaryError('sendMessage', request, { metadata: { authorization: `Bearer ${oldToken}` } }),
        { code: grpc.status.UNAUTHENTICATED, reason: 'UNAUTHENTICATED' },
      );
      const res = await raw.unary('sendMessage', request, {
        metadata: { authorization: `Bearer ${newToken}` },
      });
      expect(res.payload?.$case).toBe('task');
    } finally {
      raw.close();
    }
  });

  it('unknown kids refetch the JWKS at most once per cooldown', async () => {
    issuer = await TestIssuer.start();
    t = await startServer({
      auth: { jwt: { jwksUrl: issuer.jwksUrl, audience: ISSUER_AUDIENCE, jwksCooldownSeconds: 300 } },
    });
    expect(await send(t, await issuer.token({}))).toBe(200);
    const foreign = await TestIssuer.foreignKey();
    // Forged tokens naming kids nobody published: refused, and only the first may cause a fetch.
    for (let i = 0; i < 5; i++) {
      const forged = await issuer.token({ n: i }, { key: foreign });
      const header = Buffer.from(JSON.stringify({ alg: 'RS256', kid: `forged-${i}` })).toString('base64url');
      expect(await send(t, `${header}.${forged.split('.').slice(1).join('.')}`)).toBe(401);
    }
    expect(issuer.jwksFetches).toBe(1);
  });

  it('an issuer that is down: 401 without a fetch per request, and served once it is back', async () => {
    issuer = await TestIssuer.start();
    issuer.down = true;
    t = await startServer({ auth: { jwt: { jwksUrl: issuer.jwksUrl, audience: ISSUER_AUDIENCE } } });
    const token = await issuer.token({});
    const res = await rpc(
      t.url,
      'echo',
      'SendMessage',
      { message: messageJson('hi') },
      { authorization: `Bearer ${token}` },
    );
    expect(res.status).toBe(401);
    expect(res.json.error.message).toContain('keys are unavailable');
    const started = Date.now();
    for (let i = 0; i < 20; i++) expect(await send(t, token)).toBe(401);
    // At most one fetch per second while it is down, however many requests arrive.
    expect(issuer.jwksFetches).toBeLessThanOrEqual(2 + Math.floor((Date.now() - started) / 1000));
    expect(issuer.jwksFetches).toBeLessThan(21);
    issuer.down = false;
    const server = t;
    await eventually(
      async () => (await send(server, token)) === 200,
      10_000,
      'the issuer keys to be fetched again',
    );
  });

  it('OIDC discovery finds the JWKS from the issuer', async () => {
    issuer = await TestIssuer.start();
    t = await startServer({
      auth: { jwt: { issuer: issuer.url, discovery: true, audience: ISSUER_AUDIENCE } },
    });
    expect(await send(t, await issuer.token({}))).toBe(200);
    expect(await send(t, await issuer.token({}, { issuer: 'https://other.example' }))).toBe(401);
  });
});
