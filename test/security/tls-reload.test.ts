/**
 * Certificate rotation without a restart: new files (as cert-manager writes them) are
 * served to new connections on HTTPS and gRPC while streams opened before the rotation run
 * to their end; a half-written or mismatched file keeps the previous certificate and logs
 * why.
 */
import { writeFile } from 'node:fs/promises';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskState } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { connect } from '../../src/client/connect.js';
import { Outbound } from '../../src/security/outbound.js';
import { certDir, TestCa, writeCa, writePem, type Pem } from '../helpers/certs.js';
import { closeSdkClient } from '../helpers/grpc.js';
import { userMessage } from '../helpers/sdk-client.js';
import { startServer, type TestServer } from '../helpers/server.js';

let ca: TestCa;
let first: Pem;
let files: { certFile: string; keyFile: string };
let ts: TestServer;
let outbound: Outbound;
let httpPort: number;
let grpcPort: number;

beforeAll(async () => {
  ca = await TestCa.create();
  first = await ca.issue({ commonName: 'agentd-1', server: true });
  const dir = await certDir();
  files = await writePem(dir, 'tls', first);
  const caFile = await writeCa(dir, 'ca', ca);
  ts = await startServer({
    agents: [
      { name: 'echo', kind: 'echo', default: true },
      { name: 'countdown', kind: 'countdown', stepMs: 100 },
    ],
    tls: { ...files, reloadIntervalMs: 100 },
  });
  outbound = await Outbound.create({ caFile });
  httpPort = Number(new URL(ts.url).port);
  grpcPort = Number(ts.server.grpcAddress?.split(':').at(-1));
});

afterAll(async () => {
  await ts?.close();
  await outbound?.close();
});

/** The fingerprint a new TLS connection to `port` is served (h2 for the gRPC port). */
function servedFingerprint(port: number, alpn: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(
      { host: '127.0.0.1', port, ca: ca.cert, servername: 'localhost', ALPNProtocols: [alpn] },
      () => {
        resolve(socket.getPeerCertificate().fingerprint256);
        socket.destroy();
      },
    );
    socket.on('error', reject);
  });
}

const served = async (): Promise<{ http: string; grpc: string }> => ({
  http: await servedFingerprint(httpPort, 'http/1.1'),
  grpc: await servedFingerprint(grpcPort, 'h2'),
});

/** Resolves when a log line with `msg` appears after index `from` (the server logs each reload attempt). */
async function logged(msg: string, from: number): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const line = ts.logs.slice(from).find((l) => l.msg === msg);
    if (line) return line;
    if (Date.now() > deadline) throw new Error(`no log line "${msg}"`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Opens a countdown stream and collects its states until it ends; resolves once the first event arrived. */
async function openStream(
  transport: 'jsonrpc' | 'grpc',
): Promise<{ client: Client; done: Promise<TaskState[]>; ended: () => boolean }> {
  const { client } = await connect(ts.agentUrl('countdown'), transport, outbound);
  const states: TaskState[] = [];
  let started: () => void = () => {};
  const first = new Promise<void>((r) => (started = r));
  const done = (async () => {
    for await (const event of client.sendMessageStream({
      tenant: '',
      message: userMessage('15'),
      configuration: undefined,
      metadata: undefined,
    })) {
      const p = event.payload;
      const state = p?.$case === 'statusUpdate' || p?.$case === 'task' ? p.value.status?.state : undefined;
      if (state !== undefined) states.push(state);
      started();
    }
    return states;
  })();
  let over = false;
  void done.then(
    () => (over = true),
    () => {
      over = true;
      started();
    },
  );
  await first;
  return { client, done, ended: () => over };
}

describe('certificate reload', () => {
  it('serves rotated files to new connections while open streams finish', async () => {
    expect(await served()).toEqual({ http: first.fingerprint256, grpc: first.fingerprint256 });
    const sse = await openStream('jsonrpc');
    const grpcStream = await openStream('grpc');
    try {
      const second = await ca.issue({ commonName: 'agentd-2', server: true });
      const from = ts.logs.length;
      await writePem(files.certFile.replace(/\/[^/]+$/, ''), 'tls', second);
      const line = await logged('TLS certificate reloaded', from);
      expect(line.fingerprint256).toBe(second.fingerprint256);
      expect(await served()).toEqual({ http: second.fingerprint256, grpc: second.fingerprint256 });
      // Both streams were still open when new connections got the new certificate.
      expect([sse.ended(), grpcStream.ended()]).toEqual([false, false]);

      // The streams opened on the old certificate were not dropped: they end normally.
      for (const states of [await sse.done, await grpcStream.done]) {
        expect(states.at(-1)).toBe(TaskState.TASK_STATE_COMPLETED);
        expect(states.filter((s) => s === TaskState.TASK_STATE_WORKING).length).toBeGreaterThanOrEqual(15);
      }
      // And a new client works on the new certificate.
      const { client } = await connect(ts.agentUrl('echo'), 'grpc', outbound);
      try {
        const result = await client.sendMessage({
          tenant: '',
          message: userMessage('after rotation'),
          configuration: undefined,
          metadata: undefined,
        });
        expect(JSON.stringify(result)).toContain('after rotation');
      } finally {
        closeSdkClient(client);
      }
    } finally {
      closeSdkClient(sse.client);
      closeSdkClient(grpcStream.client);
    }
  });

  it('keeps the previous certificate when the new files are half-written or do not match', async () => {
    const before = await served();
    let from = ts.logs.length;
    const good = await ca.issue({ commonName: 'agentd-3', server: true });
    await writeFile(files.certFile, good.cert.slice(0, 200)); // a writer caught mid-way
    const error = await logged(
      'new TLS certificate files are not usable; still serving the previous certificate',
      from,
    );
    expect(error.level).toBe(50);
    expect(JSON.stringify(error)).toContain(files.certFile);
    expect(JSON.stringify(error)).not.toContain('PRIVATE KEY');
    expect(await served()).toEqual(before);

    from = ts.logs.length;
    await writeFile(files.certFile, good.cert); // the new certificate with the old key
    const mismatch = await logged(
      'new TLS certificate files are not usable; still serving the previous certificate',
      from,
    );
    expect(JSON.stringify(mismatch)).toContain('does not belong');
    expect(await served()).toEqual(before);

    from = ts.logs.length;
    await writeFile(files.keyFile, good.key); // the writer finishes
    expect((await logged('TLS certificate reloaded', from)).fingerprint256).toBe(good.fingerprint256);
    expect(await served()).toEqual({ http: good.fingerprint256, grpc: good.fingerprint256 });
  });
});
