/**
 * The pure parts of authentication: mTLS mapping of a peer certificate to a principal, the
 * bounded verified-token cache, scope decisions, and API key entries (sha256, key files).
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ApiKeyStore, keyDigest, parseKeyFile } from '../../src/security/api-keys.js';
import { Authenticator } from '../../src/security/authenticator.js';
import { messageAuthorizer, scopeRules } from '../../src/security/authz.js';
import { principalFromPeer } from '../../src/security/mtls.js';
import { PRINCIPAL_STATE_KEY, type PeerIdentity, type Principal } from '../../src/security/principal.js';
import { TokenCache } from '../../src/security/token-cache.js';
import { ServerCallContext } from '@a2a-js/sdk/server';
import { configSchema } from '../../src/config/schema.js';
import { sendRequest } from '../helpers/sdk-client.js';
import { BUNDLED_DEMO_CONFIG, loadConfig } from '../../src/config/load-config.js';
import { hsToken } from './issuer.js';

const logger = pino({ level: 'silent' });
const peer: PeerIdentity = {
  commonName: 'billing-service',
  dnsNames: ['billing.internal'],
  uris: ['spiffe://example.org/ns/prod/sa/billing'],
  fingerprint256: 'AA:BB',
};
const mtls = (principalFrom: 'san' | 'subject', scopes: string[] = []) => ({
  enabled: true,
  principalFrom,
  scopes,
});

describe('mTLS: PeerIdentity → Principal', () => {
  it('san takes the URI SAN first (SPIFFE), then the DNS SAN, then the CN', () => {
    expect(principalFromPeer(peer, mtls('san'), 'agentd:admin')?.id).toBe(
      'spiffe://example.org/ns/prod/sa/billing',
    );
    expect(principalFromPeer({ ...peer, uris: [] }, mtls('san'), 'agentd:admin')?.id).toBe(
      'billing.internal',
    );
    expect(principalFromPeer({ ...peer, uris: [], dnsNames: [] }, mtls('san'), 'agentd:admin')?.id).toBe(
      'billing-service',
    );
  });
  it('subject takes the CN; a certificate naming nobody authenticates nobody', () => {
    expect(principalFromPeer(peer, mtls('subject'), 'agentd:admin')?.id).toBe('billing-service');
    expect(
      principalFromPeer({ ...peer, commonName: undefined }, mtls('subject'), 'agentd:admin'),
    ).toBeUndefined();
  });
  it('the configured scopes are granted; the admin scope makes an admin', () => {
    const p = principalFromPeer(peer, mtls('san', ['echo:use', 'agentd:admin']), 'agentd:admin');
    expect(p).toMatchObject({ scheme: 'mtls', admin: true });
    expect([...(p?.scopes ?? [])]).toEqual(['echo:use', 'agentd:admin']);
  });
  it('the authenticator accepts an injected peer only when mTLS is configured', () => {
    const config = configSchema.parse({
      agents: [{ name: 'echo', kind: 'echo' }],
      tls: { certFile: 'c.pem', keyFile: 'k.pem', clientCaFile: 'ca.pem' },
      auth: { mtls: { scopes: ['echo:use'] } },
    });
    const a = Authenticator.create({ auth: config.auth, tls: config.tls, baseDir: '.', env: {}, logger });
    expect(a.schemes).toEqual({ apiKey: false, jwt: false, mtls: true });
    expect((a.authenticate({ peer }) as Principal).id).toBe('spiffe://example.org/ns/prod/sa/billing');
    expect(() => a.authenticate({})).toThrow(/Authentication required/);
    const off = Authenticator.create({
      auth: config.auth,
      tls: { ...config.tls, clientCaFile: undefined },
      baseDir: '.',
      env: {},
      logger,
    });
    expect(off.enabled).toBe(false);
  });
});

describe('verified-token cache', () => {
  const p: Principal = { id: 'alice', scheme: 'jwt', scopes: new Set(), admin: false };
  it('is bounded by count (oldest out first)', () => {
    const cache = new TokenCache({ maxEntries: 3, maxBytes: 1 << 20 });
    for (let i = 0; i < 10; i++) cache.set(`token-${i}`, p, Date.now() + 60_000);
    expect(cache.size).toBe(3);
    expect(cache.get('token-0')).toBeUndefined();
    expect(cache.get('token-9')).toBe(p);
  });
  it('is bounded by bytes', () => {
    const cache = new TokenCache({ maxEntries: 1000, maxBytes: 4096 });
    for (let i = 0; i < 100; i++) cache.set(`${'x'.repeat(500)}-${i}`, p, Date.now() + 60_000);
    expect(cache.byteSize).toBeLessThanOrEqual(4096);
    expect(cache.size).toBeGreaterThan(0);
  });
  it('an entry expires at the token exp', () => {
    let now = 1_000_000;
    const cache = new TokenCache({ maxEntries: 10, maxBytes: 1 << 20 }, () => now);
    cache.set('t', p, now + 5000);
    expect(cache.get('t')).toBe(p);
    now += 5000;
    expect(cache.get('t')).toBeUndefined();
    expect(cache.size).toBe(0);
    cache.set('no-exp', p, undefined);
    expect(cache.get('no-exp')).toBeUndefined();
  });
});

describe('scope authorization of messages', () => {
  const rules = scopeRules([
    { name: 'billing', scopes: ['billing:use'], skills: [{ id: 'refund', scopes: ['billing:refund'] }] },
    { name: 'open', scopes: [] },
  ]);
  const authorize = messageAuthorizer(rules);
  const ctxOf = (scopes: string[], admin = false): ServerCallContext =>
    new ServerCallContext({
      state: new Map([[PRINCIPAL_STATE_KEY, { id: 'u', scheme: 'jwt', scopes: new Set(scopes), admin }]]),
    });
  const refund = { ...sendRequest('x') };
  refund.message = {
    ...refund.message!,
    parts: [
      {
        content: { $case: 'data', value: { tool: 'refund', arguments: {} } },
        metadata: undefined,
        filename: '',
        mediaType: 'application/json',
      },
    ],
  };

  it('the agent scopes are required; agents without scopes are open to every authenticated caller', () => {
    expect(() => authorize({ name: 'billing' }, sendRequest('x'), ctxOf([]))).toThrow(/billing:use/);
    expect(() => authorize({ name: 'billing' }, sendRequest('x'), ctxOf(['billing:use']))).not.toThrow();
    expect(() => authorize({ name: 'open' }, sendRequest('x'), ctxOf([]))).not.toThrow();
  });
  it('a message naming a skill needs its scopes too', () => {
    expect(() => authorize({ name: 'billing' }, refund, ctxOf(['billing:use']))).toThrow(
      /skill "refund".*billing:refund/,
    );
    expect(() =>
      authorize({ name: 'billing' }, refund, ctxOf(['billing:use', 'billing:refund'])),
    ).not.toThrow();
  });
  it('the admin and the wildcard pass everything; so does the open mode (no principal)', () => {
    expect(() => authorize({ name: 'billing' }, refund, ctxOf([], true))).not.toThrow();
    expect(() => authorize({ name: 'billing' }, refund, ctxOf(['*']))).not.toThrow();
    expect(() => authorize({ name: 'billing' }, refund, new ServerCallContext())).not.toThrow();
  });
});

describe('API keys', () => {
  it('sha256 entries accept the key whose digest they hold', () => {
    const store = new ApiKeyStore(
      [{ digest: keyDigest('s3cret'), principal: 'p', scopes: [] }],
      undefined,
      logger,
    );
    expect(store.lookup('s3cret')?.principal).toBe('p');
    expect(store.lookup('s3cret ')).toBeUndefined();
    const config = configSchema.parse({
      agents: [{ name: 'echo', kind: 'echo' }],
      auth: {
        apiKeys: [
          { sha256: keyDigest('hashed').toString('hex'), principal: 'h' },
          { key: { env: 'MY_KEY' }, principal: 'e' },
        ],
      },
    });
    const fromConfig = ApiKeyStore.fromConfig(config.auth, '.', { MY_KEY: 'from-env' }, logger);
    expect(fromConfig.lookup('hashed')?.principal).toBe('h');
    expect(fromConfig.lookup('from-env')?.principal).toBe('e');
  });
  it('key files are YAML or JSON lists (or {apiKeys: [...]}); a bad entry is named', () => {
    expect(parseKeyFile('[{"key":"a","principal":"p","scopes":["s"]}]', 'k.json')[0]?.scopes).toEqual(['s']);
    expect(
      parseKeyFile('apiKeys:\n  - { sha256: ' + 'a'.repeat(64) + ', principal: q }\n', 'k.yaml')[0]
        ?.principal,
    ).toBe('q');
    expect(() => parseKeyFile('- { key: a }\n', 'k.yaml')).toThrow(/k\.yaml: 0\.principal/);
    expect(() =>
      parseKeyFile('- { key: a, sha256: ' + 'b'.repeat(64) + ', principal: p }\n', 'k.yaml'),
    ).toThrow(/exactly one/);
  });
});

describe('the standard environment variables', () => {
  it('API_KEY is a key with every scope (admin); JWT_SECRET turns HS256 on', async () => {
    const env = { API_KEY: 'env-key', JWT_SECRET: 'env-secret' };
    const { config, baseDir } = loadConfig({ configPath: BUNDLED_DEMO_CONFIG, env });
    const a = Authenticator.create({ auth: config.auth, tls: config.tls, baseDir, env, logger });
    expect(a.schemes).toEqual({ apiKey: true, jwt: true, mtls: false });
    expect(a.authenticate({ apiKey: 'env-key' })).toMatchObject({ id: 'api-key', admin: true });
    const token = await hsToken('env-secret', { sub: 'svc', scp: ['a', 'b'] });
    const p = await a.authenticate({ authorization: `Bearer ${token}` });
    expect(p).toMatchObject({ id: 'svc', scheme: 'jwt', admin: false });
    expect([...p.scopes]).toEqual(['a', 'b']);
    await expect(
      Promise.resolve().then(() => a.authenticate({ authorization: `Bearer ${token.slice(0, -4)}AAAA` })),
    ).rejects.toThrow(/signature/);
    a.close();
  });
});
