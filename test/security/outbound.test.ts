/**
 * Outbound.for(url): which target's credentials and TLS settings a URL gets, and how a
 * missing secret or file is reported (never with a secret's value).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Outbound, OutboundConfigError } from '../../src/security/outbound.js';
import { peerIdentityOf } from '../../src/security/principal.js';
import { TestCa, certDir, writeCa, writePem } from '../helpers/certs.js';

describe('Outbound.for', () => {
  it('applies the first target whose url prefixes the request URL', async () => {
    const o = await Outbound.create(
      {
        targets: [
          { url: 'https://a.example/a2a/billing/', apiKey: 'billing-key', headers: {} },
          { url: 'https://a.example/', bearerToken: 'site-token', headers: { 'X-Team': 'ops' } },
        ],
      },
      '.',
      {},
    );
    expect(o.for('https://a.example/a2a/billing/v1/message:send').headers).toEqual({
      'x-api-key': 'billing-key',
    });
    expect(o.for('https://a.example/a2a/search/').headers).toEqual({
      authorization: 'Bearer site-token',
      'x-team': 'ops',
    });
    expect(o.for('https://b.example/').headers).toEqual({});
    expect(o.for('https://b.example/').dispatcher).toBeUndefined();
  });

  it('reads env and file secrets on each call, so rotated values are used', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agentd-outbound-'));
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, 'first\n');
    const env: NodeJS.ProcessEnv = { PEER_KEY: 'k1' };
    const o = await Outbound.create(
      {
        targets: [
          {
            url: 'https://p.example/',
            apiKey: { env: 'PEER_KEY' },
            bearerToken: { file: tokenFile },
            headers: {},
          },
        ],
      },
      dir,
      env,
    );
    expect(o.for('https://p.example/x').headers).toEqual({
      'x-api-key': 'k1',
      authorization: 'Bearer first',
    });
    env.PEER_KEY = 'k2';
    await writeFile(tokenFile, 'second\n');
    expect(o.for('https://p.example/x').headers).toEqual({
      'x-api-key': 'k2',
      authorization: 'Bearer second',
    });
  });

  it('names where a missing secret was looked for', async () => {
    const o = await Outbound.create(
      { targets: [{ url: 'https://p.example/', apiKey: { env: 'NOT_SET_ANYWHERE' }, headers: {} }] },
      '.',
      {},
    );
    expect(() => o.for('https://p.example/')).toThrow(
      'outbound credentials for https://p.example/ (apiKey): environment variable NOT_SET_ANYWHERE is not set',
    );
  });

  it('gives the section-wide TLS files to every target without its own', async () => {
    const ca = await TestCa.create();
    const dir = await certDir();
    const caFile = await writeCa(dir, 'ca', ca);
    const client = await writePem(dir, 'client', await ca.issue({ commonName: 'me', client: true }));
    const o = await Outbound.create(
      {
        caFile,
        ...client,
        targets: [
          { url: 'https://keyed.example/', apiKey: 'k', headers: {} },
          { url: 'https://own-ca.example/', caFile, headers: {} },
        ],
      },
      '.',
      {},
    );
    try {
      const keyed = o.for('https://keyed.example/');
      const other = o.for('https://anything.example/');
      expect(keyed.tls.ca?.at(-1)).toBe(ca.cert);
      expect(keyed.tls.cert?.toString()).toContain('BEGIN CERTIFICATE');
      expect(keyed.dispatcher).toBeDefined();
      expect(keyed.dispatcher).toBe(other.dispatcher);
      // A target's own TLS files replace the section's only where given; the rest are inherited.
      const own = o.for('https://own-ca.example/');
      expect(own.dispatcher).not.toBe(keyed.dispatcher);
      expect(own.tls.cert?.equals(keyed.tls.cert as Buffer)).toBe(true);
    } finally {
      await o.close();
    }
  });

  it('refuses a file that cannot be read, naming the setting', async () => {
    await expect(Outbound.create({ caFile: '/nonexistent/ca.pem' }, '.', {})).rejects.toThrow(
      OutboundConfigError,
    );
    await expect(
      Outbound.create(
        { targets: [{ url: 'https://x.example/', certFile: '/tmp/c.pem', headers: {} }] },
        '.',
        {},
      ),
    ).rejects.toThrow('outbound.targets[0]: certFile and keyFile go together');
  });
});

describe('peerIdentityOf', () => {
  it('reads quoted subjectAltName entries and ignores other kinds', () => {
    const id = peerIdentityOf({
      raw: Buffer.from([1]),
      fingerprint256: 'AA:BB',
      subject: { CN: 'svc' },
      subjectaltname: 'DNS:a.example, IP Address:127.0.0.1, URI:"spiffe://x/with,comma", DNS:b.example',
    } as unknown as Parameters<typeof peerIdentityOf>[0]);
    expect(id).toEqual({
      commonName: 'svc',
      dnsNames: ['a.example', 'b.example'],
      uris: ['spiffe://x/with,comma'],
      fingerprint256: 'AA:BB',
    });
  });

  it('is undefined for Node’s empty “no certificate” object', () => {
    expect(peerIdentityOf({} as Parameters<typeof peerIdentityOf>[0])).toBeUndefined();
    expect(peerIdentityOf(undefined)).toBeUndefined();
  });
});
