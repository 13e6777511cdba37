/**
 * Webhooks as users of a running agentd see them: credentials are write-only on every
 * transport (Get/List answer them redacted; the receiver gets the real ones), each delivery
 * carries a JWT a receiver verifies with agentd's served JWKS, refused targets are rejected
 * when the config is set, and a refused delivery is logged (without credentials) and counted.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TaskState } from '@a2a-js/sdk';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRANSPORTS, asTask, messageRequest, pushConfig } from '../helpers/interop.js';
import { SuiteClients } from '../helpers/sdk-client.js';
import { eventually, startServer, type TestServer } from '../helpers/server.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import { rpc } from '../helpers/wire.js';

describe.each(TRANSPORTS)('webhook credentials over %s', (transport) => {
  let t: TestServer;
  let hook: WebhookReceiver;
  const clients = new SuiteClients(transport);
  beforeAll(async () => {
    hook = await startWebhookReceiver();
    t = await startServer({ push: { allow: ['127.0.0.0/8'], baseDelayMs: 10 } });
  });
  afterAll(async () => {
    clients.close();
    await t.close();
    await hook.close();
  });

  it('Create, Get and List answer token and credentials redacted; the webhook receives them', async () => {
    const countdown = await clients.for(t.agentUrl('countdown'));
    const task = asTask(await countdown.sendMessage(messageRequest('count to 2 and ask')));
    expect(task.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    const created = await countdown.createTaskPushNotificationConfig(
      pushConfig({
        taskId: task.id,
        id: 'secret-hook',
        url: hook.url,
        token: 'tok-very-secret',
        authentication: { scheme: 'Basic', credentials: 'dXNlcjpwYXNz' },
      }),
    );
    const got = await countdown.getTaskPushNotificationConfig({
      tenant: '',
      taskId: task.id,
      id: 'secret-hook',
    });
    const listed = await countdown.listTaskPushNotificationConfig({
      tenant: '',
      taskId: task.id,
      pageSize: 0,
      pageToken: '',
    });
    for (const shown of [created, got, listed.configs[0]]) {
      expect(shown).toMatchObject({ id: 'secret-hook', url: hook.url, token: '[redacted]' });
      expect(shown?.authentication).toMatchObject({ scheme: 'Basic', credentials: '[redacted]' });
      expect(JSON.stringify(shown)).not.toMatch(/tok-very-secret|dXNlcjpwYXNz/);
    }

    await countdown.sendMessage(messageRequest('go on', { taskId: task.id }));
    const delivered = await hook.waitFor((r) => r.headers['x-a2a-notification-token'] === 'tok-very-secret');
    expect(delivered.headers.authorization).toBe('Basic dXNlcjpwYXNz');
  });
});

describe('signed deliveries and refused targets', () => {
  let t: TestServer;
  let hook: WebhookReceiver;
  let redirector: Server;
  let redirectorUrl: string;
  beforeAll(async () => {
    hook = await startWebhookReceiver();
    redirector = createServer((_req, res) => res.writeHead(307, { location: hook.url }).end());
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    redirectorUrl = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}/hook`;
    // Only the two receivers are allowed: loopback in general stays refused.
    t = await startServer({
      push: { allow: [new URL(hook.url).host, new URL(redirectorUrl).host], baseDelayMs: 10 },
    });
  });
  afterAll(async () => {
    await t.close();
    await hook.close();
    redirector.closeAllConnections();
    await new Promise((resolve) => redirector.close(resolve));
  });

  it('each delivery carries Authorization: Bearer <JWT> that verifies with the served JWKS', async () => {
    const res = await rpc(t.url, 'echo', 'SendMessage', {
      message: { messageId: 'm-sign', role: 'ROLE_USER', parts: [{ text: 'sign me' }] },
      configuration: { taskPushNotificationConfig: { url: hook.url } },
    });
    const taskId = res.json.result.task.id as string;
    const delivered = await hook.waitFor((r) => r.raw.includes(taskId));
    const auth = delivered.headers.authorization ?? '';
    expect(auth).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    const jwks = createRemoteJWKSet(new URL(`${t.url}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(auth.slice('Bearer '.length), jwks, {
      audience: hook.url,
      issuer: 'agentd',
    });
    expect(payload.taskId).toBe(taskId);
    expect(typeof payload.iat).toBe('number');
    expect((payload.exp as number) - (payload.iat as number)).toBeGreaterThan(0);
    expect(protectedHeader.kid).toBeTruthy();
    // A token for another URL does not verify for this one.
    await expect(jwtVerify(auth.slice(7), jwks, { audience: `${hook.url}/other` })).rejects.toThrow();
  });

  it('a config naming a refused address is rejected with PUSH_TARGET_REFUSED, saying why', async () => {
    const task = await rpc(t.url, 'countdown', 'SendMessage', {
      message: { messageId: 'm-refuse', role: 'ROLE_USER', parts: [{ text: 'count to 2 and ask' }] },
    });
    const taskId = task.json.result.task.id as string;
    for (const [url, why] of [
      ['http://127.1:9/hook', 'loopback'],
      ['http://[::ffff:127.0.0.1]:9/hook', 'loopback'],
      ['http://169.254.169.254/latest/meta-data/', 'cloud metadata'],
      ['http://10.0.0.8/hook', 'private-network'],
    ] as const) {
      const res = await rpc(t.url, 'countdown', 'CreateTaskPushNotificationConfig', { taskId, url });
      expect(res.json.error?.code, url).toBe(-32074);
      expect(res.json.error?.message).toContain(why);
      expect(res.json.error?.data?.[0]?.reason).toBe('PUSH_TARGET_REFUSED');
    }
    // On SendMessage too: no task is created for it.
    const sent = await rpc(t.url, 'echo', 'SendMessage', {
      message: { messageId: 'm-refuse-2', role: 'ROLE_USER', parts: [{ text: 'x' }] },
      configuration: { taskPushNotificationConfig: { url: 'http://0.0.0.0:9/hook' } },
    });
    expect(sent.json.error?.code).toBe(-32074);
  });

  it('a delivery refused at send time (a redirect) is logged without credentials and counted', async () => {
    const res = await rpc(t.url, 'echo', 'SendMessage', {
      message: { messageId: 'm-redirect', role: 'ROLE_USER', parts: [{ text: 'redirect me' }] },
      configuration: {
        taskPushNotificationConfig: {
          url: redirectorUrl,
          token: 'tok-in-log?',
          authentication: { scheme: 'Bearer', credentials: 'cred-in-log?' },
        },
      },
    });
    const taskId = res.json.result.task.id as string;
    await eventually(
      () => t.logs.some((l) => l.task_id === taskId && String(l.msg).startsWith('push notification refused')),
      5000,
      'the refusal log line',
    );
    const lines = t.logs.filter((l) => l.task_id === taskId);
    expect(JSON.stringify(lines)).not.toMatch(/tok-in-log|cred-in-log/);
    expect(lines.find((l) => String(l.msg).startsWith('push notification refused'))?.reason).toBe('redirect');
    expect(hook.requests.some((r) => r.raw.includes(taskId))).toBe(false);
    const metrics = await (await fetch(`http://${t.server.metricsAddress}/metrics`)).text();
    expect(metrics).toMatch(/push_notifications_refused_total\{[^}]*reason="redirect"[^}]*\} [1-9]/);
  });

  it('the JWKS is served as a key set', async () => {
    const res = await fetch(`${t.url}/.well-known/jwks.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/jwk-set\+json/);
    const body = (await res.json()) as { keys: Array<Record<string, unknown>> };
    expect(body.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', use: 'sig', alg: 'ES256' });
    expect(body.keys[0]).not.toHaveProperty('d');
  });
});

describe('push.allow configuration', () => {
  it('a malformed entry stops the start, naming it', async () => {
    await expect(startServer({ push: { allow: ['10.0.0.0/99'] } })).rejects.toThrow(
      'push.allow: "10.0.0.0/99" is not a valid CIDR',
    );
  });
});
