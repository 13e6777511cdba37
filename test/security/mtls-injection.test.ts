/**
 * The injection point the TLS layer fills: `peerOf(request)` hands the HTTP hook the verified
 * client certificate of the connection. With mTLS on, a request without other credentials
 * authenticates as the certificate's principal; a presented credential still decides.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { registerHttpAuth } from '../../src/protocol/http/http-auth.js';
import { Authenticator } from '../../src/security/authenticator.js';
import type { PeerIdentity } from '../../src/security/principal.js';

const PEER: PeerIdentity = {
  commonName: 'worker',
  dnsNames: ['worker.internal'],
  uris: ['spiffe://example.org/worker'],
  fingerprint256: '00:11',
};

let app: FastifyInstance;
beforeAll(async () => {
  const config = configSchema.parse({
    agents: [{ name: 'echo', kind: 'echo' }],
    tls: { certFile: 'c.pem', keyFile: 'k.pem', clientCaFile: 'ca.pem', clientAuth: 'optional' },
    auth: { apiKeys: [{ key: 'k1', principal: 'key-user' }], mtls: { scopes: ['echo:use'] } },
  });
  const logger = pino({ level: 'silent' });
  const authenticator = Authenticator.create({
    auth: config.auth,
    tls: config.tls,
    baseDir: '.',
    env: {},
    logger,
  });
  app = Fastify();
  registerHttpAuth(app, {
    authenticator,
    logger,
    // A fake TLS layer: the certificate travels in a test header.
    peerOf: (request) => (request.headers['x-test-peer'] === 'yes' ? PEER : undefined),
  });
  app.get('/whoami', (request) => ({ id: request.principal?.id, scheme: request.principal?.scheme }));
  await app.ready();
});
afterAll(() => app?.close());

describe('peerOf injection', () => {
  it('a verified certificate alone authenticates as its SAN', async () => {
    const res = await app.inject({ url: '/whoami', headers: { 'x-test-peer': 'yes' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id: 'spiffe://example.org/worker', scheme: 'mtls' });
  });
  it('no certificate and no credential → 401', async () => {
    const res = await app.inject({ url: '/whoami' });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.status).toBe('UNAUTHENTICATED');
  });
  it('a presented API key decides, even with a certificate', async () => {
    const good = await app.inject({ url: '/whoami', headers: { 'x-test-peer': 'yes', 'x-api-key': 'k1' } });
    expect(good.json()).toEqual({ id: 'key-user', scheme: 'apiKey' });
    const bad = await app.inject({ url: '/whoami', headers: { 'x-test-peer': 'yes', 'x-api-key': 'nope' } });
    expect(bad.statusCode).toBe(401);
  });
});
