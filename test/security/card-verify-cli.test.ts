/**
 * `agentd card <url> --verify --jwks <url|file>` against a served signed card: success
 * names the key; a tampered card, an unsigned card and a key outside the trusted set each
 * fail with a clear message and exit code 1; --verify without --jwks is a usage error.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, runCli } from '../../src/cli/main.js';
import { startServer, type TestServer } from '../helpers/server.js';

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void): Writable =>
    new Writable({
      write(chunk: Buffer | string, _enc, cb) {
        append(chunk.toString());
        cb();
      },
    });
  const code = await runCli(argv, {
    stdout: sink((s) => (stdout += s)),
    stderr: sink((s) => (stderr += s)),
    env: {},
  });
  return { code, stdout, stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'agentd-verify-'));
const keyFile = join(dir, 'key.pem');
writeFileSync(
  keyFile,
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
);

describe('agentd card --verify', () => {
  let t: TestServer;
  let jwksUrl: string;
  let jwksFile: string;
  let strangerJwks: string;
  let mangler: Server;
  let manglerUrl: string;
  beforeAll(async () => {
    t = await startServer({ cardSigning: { keyFile } });
    jwksUrl = `${t.url}/.well-known/jwks.json`;
    jwksFile = join(dir, 'jwks.json');
    writeFileSync(jwksFile, await (await fetch(jwksUrl)).text());
    strangerJwks = join(dir, 'stranger.json');
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    writeFileSync(strangerJwks, JSON.stringify({ keys: [{ ...stranger, kid: 'stranger' }] }));
    // Serves the real signed card, changed (/tampered.json) or stripped of its signature (/unsigned.json).
    const real = (await (
      await fetch(`${t.agentUrl('echo')}.well-known/agent-card.json`, { headers: { 'A2A-Version': '1.0' } })
    ).json()) as Record<string, unknown>;
    mangler = createServer((req, res) => {
      const { signatures: _s, ...unsigned } = real;
      const body = req.url === '/tampered.json' ? { ...real, description: 'changed in transit' } : unsigned;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => mangler.listen(0, '127.0.0.1', resolve));
    manglerUrl = `http://127.0.0.1:${(mangler.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await t.close();
    await new Promise((resolve) => mangler.close(resolve));
  });

  it('verifies a served card with the JWKS from a URL or a file', async () => {
    for (const jwks of [jwksUrl, jwksFile]) {
      const r = await cli(['card', t.agentUrl('echo'), '--verify', '--jwks', jwks]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(EXIT.OK);
      expect(r.stdout).toMatch(
        new RegExp(
          `signature: verified \\(key [\\w-]+, trusted keys from ${jwks.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\)`,
        ),
      );
    }
  });

  it('a tampered card fails with exit code 1, saying it was changed', async () => {
    const r = await cli(['card', `${manglerUrl}/tampered.json`, '--verify', '--jwks', jwksUrl]);
    expect(r.code).toBe(EXIT.ERROR);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('does not match the card');
    expect(r.stderr).toContain('reason: bad_signature');
  });

  it('an unsigned card fails', async () => {
    const r = await cli(['card', `${manglerUrl}/unsigned.json`, '--verify', '--jwks', jwksUrl]);
    expect(r.code).toBe(EXIT.ERROR);
    expect(r.stderr).toContain('is not signed');
  });

  it('a card signed by a key outside the trusted set fails, naming the kid', async () => {
    const r = await cli(['card', t.agentUrl('echo'), '--verify', '--jwks', strangerJwks]);
    expect(r.code).toBe(EXIT.ERROR);
    expect(r.stderr).toContain('not in the trusted key set');
    expect(r.stderr).toContain('reason: unknown_kid');
  });

  it('--verify without --jwks is a usage error', async () => {
    const r = await cli(['card', t.agentUrl('echo'), '--verify']);
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.stderr).toContain('--verify needs --jwks');
  });
});
