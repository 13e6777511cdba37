/**
 * Webhooks take their TLS and credentials from the `outbound` settings: a receiver behind a
 * private CA that requires a client certificate gets the delivery, with the per-target
 * header, and the SSRF rules still apply (the loopback receiver is allowed explicitly).
 */
import { createServer, type Server } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCa, certDir, writeCa, writePem } from '../helpers/certs.js';
import { eventually, startServer, type TestServer } from '../helpers/server.js';
import { rpc } from '../helpers/wire.js';

interface Delivery {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly clientCn: string | undefined;
}

let receiver: Server;
let receiverUrl: string;
const deliveries: Delivery[] = [];
const waiting: Array<() => void> = [];
let withOutbound: TestServer;
let withoutOutbound: TestServer;

beforeAll(async () => {
  const ca = await TestCa.create('webhook receiver CA');
  const dir = await certDir();
  const serverPem = await ca.issue({ commonName: 'receiver', ips: ['127.0.0.1'], server: true });
  const clientPem = await ca.issue({ commonName: 'agentd-webhooks', client: true });
  const clientFiles = await writePem(dir, 'client', clientPem);
  const caFile = await writeCa(dir, 'ca', ca);
  receiver = createServer(
    { cert: serverPem.cert, key: serverPem.key, ca: ca.cert, requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        deliveries.push({ headers: req.headers, body, clientCn: [peer.subject?.CN].flat()[0] });
        for (const wake of waiting.splice(0)) wake();
        res.writeHead(200).end();
      });
    },
  );
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `https://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  const common = { push: { allow: ['127.0.0.1'], signDeliveries: false } };
  withOutbound = await startServer({
    ...common,
    outbound: {
      targets: [
        {
          url: receiverUrl,
          caFile,
          ...clientFiles,
          headers: { 'x-receiver-key': 'per-target-secret' },
        },
      ],
    },
  });
  withoutOutbound = await startServer({ push: { ...common.push, maxAttempts: 1 } });
});

afterAll(async () => {
  await withOutbound?.close();
  await withoutOutbound?.close();
  receiver?.close();
});

function delivered(taskId: string, timeoutMs = 10_000): Promise<Delivery> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no delivery for ${taskId}`)), timeoutMs);
    const look = (): void => {
      const found = deliveries.find((d) => d.body.includes(taskId));
      if (found) {
        clearTimeout(timer);
        resolve(found);
      } else waiting.push(look);
    };
    look();
  });
}

async function sendWithWebhook(server: TestServer, messageId: string): Promise<string> {
  const res = await rpc(server.url, 'echo', 'SendMessage', {
    message: { messageId, role: 'ROLE_USER', parts: [{ text: 'deliver me' }] },
    configuration: { taskPushNotificationConfig: { url: `${receiverUrl}/${messageId}` } },
  });
  return res.json.result.task.id as string;
}

describe('webhooks over the outbound settings', () => {
  it('trust the private CA, present the client certificate and send the per-target header', async () => {
    const taskId = await sendWithWebhook(withOutbound, 'm-outbound');
    const d = await delivered(taskId);
    expect(d.clientCn).toBe('agentd-webhooks');
    expect(d.headers['x-receiver-key']).toBe('per-target-secret');
  });

  it('without them the private-CA receiver is not trusted: the delivery fails, logged with the TLS problem', async () => {
    const taskId = await sendWithWebhook(withoutOutbound, 'm-no-outbound');
    const failure = (): Record<string, unknown> | undefined =>
      withoutOutbound.logs.find((l) => l.task_id === taskId && l.msg === 'push notification delivery failed');
    await eventually(() => failure() !== undefined, 10_000, 'the failed delivery logged');
    const failed = failure() as Record<string, unknown>;
    expect(String(failed.problem)).toMatch(/certificate|self.signed|unable to verify/i);
    expect(deliveries.some((d) => d.body.includes(taskId))).toBe(false);
  });
});
