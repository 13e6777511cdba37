/**
 * The webhook dispatcher against real receivers on loopback: refused targets get no
 * request at all (the check is on the address connected to, after resolution through an
 * injected resolver, so no real DNS and no real private or metadata address is involved),
 * allowed ones are delivered, redirects are never followed, and long bodies are cut off.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentdError, isAgentdError } from '../../src/errors.js';
import { WebhookDispatcher, type Resolver } from '../../src/security/webhook-dispatcher.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

/** hooks.example.test resolves to loopback, as a rebinding or hostile DNS answer would. */
const resolver: Resolver = (hostname) =>
  hostname === 'hooks.example.test'
    ? Promise.resolve([{ address: '127.0.0.1', family: 4 }])
    : Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }));

const made: WebhookDispatcher[] = [];
function dispatcher(allow: string[] = [], maxResponseBytes = 65_536): WebhookDispatcher {
  const d = new WebhookDispatcher({ allow, maxResponseBytes, timeoutMs: 3000, resolve: resolver });
  made.push(d);
  return d;
}

const post = (d: WebhookDispatcher, url: string): Promise<number> =>
  d.post(url, { 'content-type': 'application/a2a+json' }, '{"task":{}}', AbortSignal.timeout(5000));

async function refusal(promise: Promise<unknown>): Promise<AgentdError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isAgentdError(error, 'PUSH_TARGET_REFUSED'))
    throw new Error(`expected PUSH_TARGET_REFUSED, got ${String(error)}`);
  return error;
}

let hook: WebhookReceiver;
let port: number;
beforeAll(async () => {
  hook = await startWebhookReceiver();
  port = Number(new URL(hook.url).port);
});
afterEach(async () => {
  await Promise.all(made.splice(0).map((d) => d.close()));
});
afterAll(async () => {
  await hook.close();
});

describe('without push.allow', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.1', 'loopback'],
    ['2130706433', 'loopback'],
    ['0x7f000001', 'loopback'],
    ['[::1]', 'loopback'],
    ['[::ffff:127.0.0.1]', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['localhost', 'loopback'],
    ['hooks.example.test', 'loopback'],
  ])('http://%s:<receiver>/hook is refused (%s) and the receiver gets nothing', async (host, reason) => {
    const before = hook.requests.length;
    const error = await refusal(post(dispatcher(), `http://${host}:${port}/hook`));
    expect(error.data?.reason).toBe(reason);
    expect(error.message).toMatch(/refused: it is (a|an|the) /);
    expect(error.message).toContain('push.allow');
    expect(hook.requests.length).toBe(before);
  });

  it.each([
    ['10.0.0.5', 'private'],
    ['172.20.1.1', 'private'],
    ['192.168.0.1', 'private'],
    ['[fd00::1]', 'private'],
    ['169.254.1.1', 'link_local'],
    ['[fe80::1]', 'link_local'],
    ['100.64.1.1', 'cgnat'],
    ['169.254.169.254', 'metadata'],
    ['[fd00:ec2::254]', 'metadata'],
    ['metadata.google.internal', 'metadata'],
  ])('http://%s/ is refused (%s) before any connection', async (host, reason) => {
    const d = dispatcher();
    expect(() => d.check(`http://${host}/latest`)).toThrow(AgentdError);
    expect((await refusal(post(d, `http://${host}/latest`))).data?.reason).toBe(reason);
  });

  it('a host name that resolves to loopback is refused at delivery though it passes the config check', async () => {
    const d = dispatcher();
    const url = `http://hooks.example.test:${port}/hook`;
    expect(() => d.check(url)).not.toThrow();
    const before = hook.requests.length;
    expect((await refusal(post(d, url))).data?.reason).toBe('loopback');
    expect(hook.requests.length).toBe(before);
  });
});

describe('with push.allow', () => {
  it.each([
    [['127.0.0.0/8'], '127.0.0.1'],
    [['127.0.0.0/8'], '127.1'],
    [['127.0.0.0/8'], '2130706433'],
    [['127.0.0.0/8'], '0x7f000001'],
    [['127.0.0.0/8'], 'hooks.example.test'],
    [['hooks.example.test'], 'hooks.example.test'],
    [[`127.0.0.1:PORT`], '127.0.0.1'],
  ])('allow %j delivers to http://%s:<receiver>/hook', async (allow, host) => {
    const d = dispatcher(allow.map((a) => a.replace('PORT', String(port))));
    const before = hook.requests.length;
    expect(await post(d, `http://${host}:${port}/hook`)).toBe(200);
    expect(hook.requests.length).toBe(before + 1);
  });

  it('opens only what it lists: another port, and private addresses, stay refused', async () => {
    const d = dispatcher([`127.0.0.1:${port}`]);
    expect((await refusal(post(d, `http://127.0.0.1:${port + 1}/hook`))).data?.reason).toBe('loopback');
    expect((await refusal(post(d, 'http://10.0.0.1/hook'))).data?.reason).toBe('private');
  });
});

describe('responses', () => {
  let redirector: Server;
  let endless: Server;
  let endlessClosed: Promise<void>;
  let redirectorPort: number;
  let endlessPort: number;
  beforeAll(async () => {
    redirector = createServer((_req, res) => {
      res.writeHead(302, { location: `http://127.0.0.1:${port}/hook` }).end();
    });
    let closed: () => void = () => {};
    endlessClosed = new Promise((resolve) => (closed = resolve));
    endless = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      res.on('close', closed);
      pump();
    });
    await Promise.all(
      [redirector, endless].map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))),
    );
    redirectorPort = (redirector.address() as AddressInfo).port;
    endlessPort = (endless.address() as AddressInfo).port;
  });
  afterAll(async () => {
    for (const s of [redirector, endless]) s.closeAllConnections();
    await Promise.all([redirector, endless].map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it('a redirect from an allowed receiver to loopback is not followed: the delivery is refused', async () => {
    // Only the redirecting receiver is allowed; the target it names (also loopback) gets nothing.
    const d = dispatcher([`127.0.0.1:${redirectorPort}`]);
    const before = hook.requests.length;
    expect((await refusal(post(d, `http://127.0.0.1:${redirectorPort}/hook`))).data?.reason).toBe('redirect');
    expect(hook.requests.length).toBe(before);
  });

  it('a redirect is refused even when its target is allowed too', async () => {
    const d = dispatcher(['127.0.0.0/8']);
    const before = hook.requests.length;
    expect((await refusal(post(d, `http://127.0.0.1:${redirectorPort}/hook`))).data?.reason).toBe('redirect');
    expect(hook.requests.length).toBe(before);
  });

  it('reads a response body only up to push.maxResponseBytes, then drops the connection', async () => {
    const d = dispatcher(['127.0.0.0/8'], 1024);
    expect(await post(d, `http://127.0.0.1:${endlessPort}/hook`)).toBe(200);
    await endlessClosed;
  });
});
