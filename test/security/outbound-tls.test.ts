/**
 * Outbound calls (`callAgent`, the CLI) to TLS peers: a private CA is trusted only when
 * configured (outbound.caFile, `--ca`), a client certificate is presented to an mTLS peer,
 * and per-target credentials (outbound.targets[]) arrive at the target they were set for.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskState, type Task } from '@a2a-js/sdk';
import { EXIT } from '../../src/cli/main.js';
import { runCliCaptured as cli } from '../helpers/cli.js';
import { connect } from '../../src/client/connect.js';
import { certDir, TestCa, writeCa, writePem } from '../helpers/certs.js';
import { closeSdkClient } from '../helpers/grpc.js';
import { userMessage } from '../helpers/sdk-client.js';
import { startServer, type TestServer } from '../helpers/server.js';

const RELAY = resolve(import.meta.dirname, '../fixtures/relay-agent.mjs');

let ca: TestCa;
let caFile: string;
let client: { certFile: string; keyFile: string };
let peer: TestServer;
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  ca = await TestCa.create('private CA');
  const dir = await certDir();
  caFile = await writeCa(dir, 'ca', ca);
  const serverFiles = await writePem(dir, 'peer', await ca.issue({ commonName: 'peer', server: true }));
  client = await writePem(dir, 'client', await ca.issue({ commonName: 'relay', client: true }));
  // The peer accepts only clients with a certificate from the private CA.
  peer = await startServer({ tls: { ...serverFiles, clientCaFile: caFile, clientAuth: 'required' } });
  closers.push(() => peer.close());
});

afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

/** Sends "<command> <url> <text>" to the relay agent and returns the task it ends with. */
async function relay(relayServer: TestServer, command: string, url: string, text: string): Promise<Task> {
  const { client: c } = await connect(relayServer.agentUrl('relay'), 'jsonrpc');
  try {
    return (await c.sendMessage({
      tenant: '',
      message: userMessage(`${command} ${url} ${text}`),
      configuration: undefined,
      metadata: undefined,
    })) as Task;
  } finally {
    closeSdkClient(c);
  }
}

const artifactText = (task: Task): string =>
  task.artifacts
    .flatMap((a) => a.parts)
    .map((p) => (p.content?.$case === 'text' ? p.content.value : ''))
    .join('');

describe('callAgent to a TLS peer', () => {
  let relayServer: TestServer;
  beforeAll(async () => {
    const peerPort = new URL(peer.url).port;
    relayServer = await startServer({
      agents: [{ name: 'relay', kind: 'module', module: RELAY, export: 'RelayAgent', default: true }],
      outbound: {
        targets: [
          // The echo agent: the private CA and the client certificate.
          { url: `${peer.url}/a2a/echo/`, caFile, ...client },
          // The countdown agent: the CA, but no client certificate.
          { url: `${peer.url}/a2a/countdown/`, caFile },
        ],
      },
    });
    closers.push(() => relayServer.close());
    expect(peerPort).not.toBe('');
  });

  for (const command of ['relay', 'relay-rest', 'relay-grpc']) {
    it(`reaches an mTLS peer with the configured CA and client certificate (${command})`, async () => {
      const task = await relay(relayServer, command, peer.agentUrl('echo'), 'over mtls');
      expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect(artifactText(task)).toContain('over mtls');
    });
  }

  it('is refused by the mTLS peer without a client certificate', async () => {
    const task = await relay(relayServer, 'relay', peer.agentUrl('countdown'), '1');
    expect(task.status?.state).toBe(TaskState.TASK_STATE_FAILED);
  });

  it('does not trust the private CA for a URL it is not configured for', async () => {
    // Same server by another name (its certificate covers localhost): no target matches.
    const other = peer.agentUrl('echo').replace('127.0.0.1', 'localhost');
    const task = await relay(relayServer, 'relay', other, 'hello');
    expect(task.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(JSON.stringify(task.status)).toMatch(/certificate/i);
  });
});

describe('per-target credentials', () => {
  const seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders }> = [];
  let recorder: Server;
  let recorderUrl: string;
  let relayServer: TestServer;
  let plainPeer: TestServer;

  beforeAll(async () => {
    plainPeer = await startServer();
    closers.push(() => plainPeer.close());
    // A recording reverse proxy in front of the peer: it notes each request's headers and
    // rewrites the peer's URLs in answers to its own, so every call goes through it.
    recorder = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
        const headers = Object.fromEntries(
          Object.entries(req.headers).filter(
            (e): e is [string, string] =>
              typeof e[1] === 'string' && e[0] !== 'host' && e[0] !== 'content-length',
          ),
        );
        void fetch(`${plainPeer.url}${req.url ?? '/'}`, {
          method: req.method,
          headers,
          ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
        }).then(async (answer) => {
          const body = (await answer.text()).split(plainPeer.url).join(recorderUrl);
          res.writeHead(answer.status, {
            'content-type': answer.headers.get('content-type') ?? 'application/json',
          });
          res.end(body);
        });
      });
    });
    await new Promise<void>((r) => recorder.listen(0, '127.0.0.1', r));
    recorderUrl = `http://127.0.0.1:${(recorder.address() as { port: number }).port}`;
    closers.push(() => new Promise((r) => recorder.close(() => r())));

    const secrets = await mkdtemp(join(tmpdir(), 'agentd-secrets-'));
    await writeFile(join(secrets, 'tenant'), 'acme\n');
    process.env.AGENTD_TEST_PEER_KEY = 'key-from-env';
    relayServer = await startServer({
      agents: [{ name: 'relay', kind: 'module', module: RELAY, export: 'RelayAgent', default: true }],
      outbound: {
        targets: [
          {
            url: `${recorderUrl}/a2a/echo/`,
            apiKey: { env: 'AGENTD_TEST_PEER_KEY' },
            bearerToken: 'token-for-echo',
            headers: { 'X-Tenant': { file: join(secrets, 'tenant') } },
          },
          { url: `${recorderUrl}/a2a/`, apiKey: 'key-for-the-rest' },
        ],
      },
    });
    closers.push(() => relayServer.close());
  });

  it('sends the first matching target’s credentials on the card fetch and every call', async () => {
    seen.length = 0;
    const task = await relay(relayServer, 'relay', `${recorderUrl}/a2a/echo/`, 'with credentials');
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(artifactText(task)).toContain('with credentials');
    expect(seen.map((s) => s.method)).toEqual(expect.arrayContaining(['GET', 'POST']));
    for (const { headers } of seen) {
      expect(headers['x-api-key']).toBe('key-from-env');
      expect(headers.authorization).toBe('Bearer token-for-echo');
      expect(headers['x-tenant']).toBe('acme');
    }
  });

  it('sends another target’s credentials to another URL', async () => {
    seen.length = 0;
    const task = await relay(relayServer, 'relay-rest', `${recorderUrl}/a2a/countdown/`, '1');
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    for (const { headers } of seen) {
      expect(headers['x-api-key']).toBe('key-for-the-rest');
      expect(headers.authorization).toBeUndefined();
      expect(headers['x-tenant']).toBeUndefined();
    }
  });
});

describe('CLI to a TLS peer', () => {
  it('sends with --ca, --cert and --key, over JSON-RPC and gRPC', async () => {
    for (const transport of ['jsonrpc', 'grpc']) {
      const r = await cli([
        'send',
        '--ca',
        caFile,
        '--cert',
        client.certFile,
        '--key',
        client.keyFile,
        '-t',
        transport,
        peer.agentUrl('echo'),
        `hello ${transport}`,
      ]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(EXIT.OK);
      expect(r.stdout).toContain(`hello ${transport}`);
    }
  });

  it('fails without the CA, and without the client certificate', async () => {
    const noCa = await cli(['card', peer.agentUrl('echo')]);
    expect(noCa.code).toBe(EXIT.ERROR);
    expect(noCa.stderr).toMatch(/certificate/i);
    const noCert = await cli(['card', '--ca', caFile, peer.agentUrl('echo')]);
    expect(noCert.code).toBe(EXIT.ERROR);
    expect(noCert.stderr).toContain('cannot reach');
    const ok = await cli([
      'card',
      '--ca',
      caFile,
      '--cert',
      client.certFile,
      '--key',
      client.keyFile,
      peer.agentUrl('echo'),
    ]);
    expect(ok.code).toBe(EXIT.OK);
  });

  it('is a usage error to give --cert without --key, or a file that cannot be read', async () => {
    const half = await cli(['card', '--cert', client.certFile, peer.agentUrl('echo')]);
    expect(half.code).toBe(EXIT.USAGE);
    expect(half.stderr).toContain('--cert and --key go together');
    const missing = await cli(['card', '--ca', '/nonexistent/ca.pem', peer.agentUrl('echo')]);
    expect(missing.code).toBe(EXIT.USAGE);
    expect(missing.stderr).toContain('--ca');
  });
});
