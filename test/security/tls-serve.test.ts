/**
 * agentd serving TLS (tls.certFile/keyFile): cards advertise https://, JSON-RPC, REST, SSE
 * and gRPC answer over TLS to clients that trust the CA, and the hardening limits hold on
 * the TLS listener.
 */
import { writeFile } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskState, type Task } from '@a2a-js/sdk';
import { EXIT, runCli } from '../../src/cli/main.js';
import { connect, fetchCard } from '../../src/client/connect.js';
import { Outbound } from '../../src/security/outbound.js';
import { certDir, TestCa, writeCa, writePem, type Pem } from '../helpers/certs.js';
import { closeSdkClient } from '../helpers/grpc.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { userMessage } from '../helpers/sdk-client.js';

let ca: TestCa;
let serverPem: Pem;
let caFile: string;
let ts: TestServer;
let outbound: Outbound;

beforeAll(async () => {
  ca = await TestCa.create();
  serverPem = await ca.issue({ commonName: 'agentd', server: true });
  const dir = await certDir();
  const files = await writePem(dir, 'server', serverPem);
  caFile = await writeCa(dir, 'ca', ca);
  ts = await startServer({
    tls: files,
    server: { httpHeadersTimeoutMs: 300, httpRequestTimeoutMs: 5000 },
  });
  outbound = await Outbound.create({ caFile });
});

afterAll(async () => {
  await ts?.close();
  await outbound?.close();
});

const sendParams = (text: string) => ({
  tenant: '',
  message: userMessage(text),
  configuration: undefined,
  metadata: undefined,
});

describe('TLS serving', () => {
  it('advertises https:// URLs and a gRPC address on the cards', async () => {
    expect(ts.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const { card } = await fetchCard(ts.agentUrl('echo'), outbound);
    const urls = Object.fromEntries(card.supportedInterfaces.map((i) => [i.protocolBinding, i.url]));
    expect(urls.JSONRPC).toBe(`${ts.url}/a2a/echo/`);
    expect(urls['HTTP+JSON']).toMatch(/^https:\/\//);
    expect(urls.GRPC).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('serves the certificate from tls.certFile', async () => {
    const { port } = new URL(ts.url);
    const fingerprint = await new Promise<string>((resolve, reject) => {
      const socket = tlsConnect(
        { host: '127.0.0.1', port: Number(port), ca: ca.cert, servername: 'localhost' },
        () => {
          resolve(socket.getPeerCertificate().fingerprint256);
          socket.end();
        },
      );
      socket.on('error', reject);
    });
    expect(fingerprint).toBe(serverPem.fingerprint256);
  });

  it('is refused by a client that does not trust the CA', async () => {
    await expect(fetchCard(ts.agentUrl('echo'))).rejects.toThrow(/certificate/i);
  });

  for (const transport of ['jsonrpc', 'rest', 'grpc'] as const) {
    it(`answers SendMessage over ${transport}`, async () => {
      const { client } = await connect(ts.agentUrl('echo'), transport, outbound);
      try {
        expect(client.transport.protocolName).toBe(
          { jsonrpc: 'JSONRPC', rest: 'HTTP+JSON', grpc: 'GRPC' }[transport],
        );
        const result = (await client.sendMessage(sendParams('over tls'))) as Task;
        expect(result.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
        expect(JSON.stringify(result)).toContain('over tls');
      } finally {
        closeSdkClient(client);
      }
    });

    it(`streams a task to the end over ${transport}`, async () => {
      const { client } = await connect(ts.agentUrl('countdown'), transport, outbound);
      try {
        const states: TaskState[] = [];
        for await (const event of client.sendMessageStream(sendParams('3'))) {
          const state =
            event.payload?.$case === 'statusUpdate'
              ? event.payload.value.status?.state
              : event.payload?.$case === 'task'
                ? event.payload.value.status?.state
                : undefined;
          if (state !== undefined) states.push(state);
        }
        expect(states.at(-1)).toBe(TaskState.TASK_STATE_COMPLETED);
        expect(states.filter((s) => s === TaskState.TASK_STATE_WORKING).length).toBeGreaterThanOrEqual(3);
      } finally {
        closeSdkClient(client);
      }
    });
  }

  it('does not answer plaintext HTTP on the TLS port', async () => {
    await expect(fetch(ts.url.replace('https:', 'http:') + '/health')).rejects.toThrow();
  });

  it('closes a TLS connection that sends no request headers within httpHeadersTimeoutMs', async () => {
    const { port } = new URL(ts.url);
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      const socket = tlsConnect(
        { host: '127.0.0.1', port: Number(port), ca: ca.cert, servername: 'localhost' },
        () => socket.write('GET /health HTTP/1.1\r\nHost: x\r\n'),
      );
      socket.on('error', reject);
      socket.on('close', () => resolve());
      socket.resume();
    });
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('closes a connection that never completes the TLS handshake', async () => {
    const { port } = new URL(ts.url);
    const started = Date.now();
    await new Promise<void>((resolve) => {
      const socket = tcpConnect({ host: '127.0.0.1', port: Number(port) });
      socket.on('error', () => {});
      socket.on('close', () => resolve());
      socket.resume();
    });
    expect(Date.now() - started).toBeLessThan(4000);
  });
});

describe('TLS files that are unusable at startup', () => {
  async function serve(tls: string): Promise<{ code: number; stderr: string; dir: string }> {
    const dir = await certDir();
    await writePem(dir, 'server', serverPem);
    await writePem(dir, 'other', await ca.issue({ commonName: 'other', server: true }));
    const file = join(dir, 'agentd.yaml');
    await writeFile(
      file,
      `server: { host: 127.0.0.1, httpPort: 0, grpcPort: 0 }\nprometheus: { enabled: false }\nagents: [{ name: echo, kind: echo }]\ntls: ${tls}\n`,
    );
    let stderr = '';
    const sink = (add: (s: string) => void): Writable =>
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          add(chunk.toString());
          cb();
        },
      });
    const code = await runCli(['serve', '--config', file], {
      stdout: sink(() => {}),
      stderr: sink((s) => (stderr += s)),
      env: {},
    });
    return { code, stderr, dir };
  }

  it('a key that does not belong to the certificate exits 2 naming both files', async () => {
    const r = await serve('{ certFile: server.crt, keyFile: other.key }');
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.stderr).toContain('Invalid configuration');
    expect(r.stderr).toContain(
      `the key in ${join(r.dir, 'other.key')} does not belong to the certificate in ${join(r.dir, 'server.crt')}`,
    );
  });

  it('a missing certificate file exits 2 naming it', async () => {
    const r = await serve('{ certFile: absent.crt, keyFile: server.key }');
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.stderr).toContain(`cannot read the TLS certificate ${join(r.dir, 'absent.crt')}`);
  });
});
