/**
 * What an operator sees: the metrics listener's bearer token and bind address, the one
 * loud warning when agentd is open beyond loopback, the refusal to start when
 * authentication is required but not configured, `serve --help` saying how to turn it on,
 * and the CLI's --api-key / --token (and their environment variables).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/main.js';
import { runCliCaptured as cli } from '../helpers/cli.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { hsToken } from './issuer.js';

let t: TestServer | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('metrics listener', () => {
  it('prometheus.bearerToken is required on /metrics when set (401 otherwise); prometheus.host binds', async () => {
    t = await startServer({ prometheus: { port: 0, host: '127.0.0.1', bearerToken: 'scrape-me' } });
    const url = `http://${t.server.metricsAddress}/metrics`;
    expect(t.server.metricsAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    const none = await fetch(url);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect((await fetch(url, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const ok = await fetch(url, { headers: { authorization: 'Bearer scrape-me' } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('a2a_');
  });
  it('without a token /metrics stays open', async () => {
    t = await startServer();
    expect((await fetch(`http://${t.server.metricsAddress}/metrics`)).status).toBe(200);
  });
});

describe('startup', () => {
  const warnings = (server: TestServer): unknown[] =>
    server.logs.filter((l) => String(l.msg).includes('authentication is OFF'));

  it('no authentication while listening beyond loopback: exactly one loud warning', async () => {
    t = await startServer({ server: { host: '0.0.0.0' } });
    expect(warnings(t)).toHaveLength(1);
    expect(warnings(t)[0]).toMatchObject({ level: 40 });
  });
  it('no warning on loopback, nor with authentication on', async () => {
    t = await startServer();
    expect(warnings(t)).toHaveLength(0);
    await t.close();
    t = await startServer({ server: { host: '0.0.0.0' }, auth: { apiKeys: [{ key: 'k', principal: 'p' }] } });
    expect(warnings(t)).toHaveLength(0);
  });
  it('auth.required without any scheme refuses to start, saying how to configure one', async () => {
    const res = await cli(['serve', '--port', '0', '--grpc-port', '0', '--host', '127.0.0.1'], {
      AGENTD_AUTH_REQUIRED: 'true',
      MONITORING_ENABLED: 'false',
    });
    expect(res.code).toBe(EXIT.USAGE);
    expect(res.stderr).toContain('auth.required is true but no authentication scheme is configured');
    expect(res.stderr).toContain('API_KEY');
  });
  it('serve --help says how to turn authentication on', async () => {
    const res = await cli(['serve', '--help']);
    expect(res.stdout).toContain('Authentication is off unless configured');
    expect(res.stdout).toMatch(/API_KEY=<key>/);
    expect(res.stdout).toMatch(/JWT_JWKS_URL/);
  });
});

describe('CLI credentials', () => {
  it('send with --api-key, --token, or AGENTD_API_KEY / AGENTD_TOKEN; without, the 401 is reported', async () => {
    t = await startServer({
      auth: { apiKeys: [{ key: 'cli-key', principal: 'cli' }], jwt: { secret: 'cli-secret' } },
    });
    const agent = t.agentUrl('echo');
    const token = await hsToken('cli-secret', { sub: 'cli-user' });
    for (const [argv, env] of [
      [['--api-key', 'cli-key'], {}],
      [['--token', token], {}],
      [[], { AGENTD_API_KEY: 'cli-key' }],
      [[], { AGENTD_TOKEN: token }],
    ] as const) {
      const res = await cli(['send', agent, 'hello', ...argv], env);
      expect(res.code, res.stderr).toBe(EXIT.OK);
      expect(res.stdout).toContain('hello');
    }
    for (const transport of ['rest', 'grpc']) {
      const res = await cli([
        'send',
        agent,
        'over ' + transport,
        '--transport',
        transport,
        '--api-key',
        'cli-key',
      ]);
      expect(res.code, res.stderr).toBe(EXIT.OK);
      expect(res.stdout).toContain('over ' + transport);
    }
    const denied = await cli(['send', agent, 'hello']);
    expect(denied.code).not.toBe(EXIT.OK);
    expect(denied.stderr).toMatch(/Authentication required/);
    const listed = await cli(['tasks', 'list', agent, '--api-key', 'cli-key', '--json']);
    expect(listed.code, listed.stderr).toBe(EXIT.OK);
  });
});
