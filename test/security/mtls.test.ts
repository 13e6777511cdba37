/**
 * Mutual TLS (tls.clientCaFile): in `required` mode a client without a certificate from the
 * client CA cannot connect, over HTTPS or gRPC; in `optional` mode it can. The verified
 * certificate reads back as a PeerIdentity on fastify requests and grpc-js calls.
 */
import * as grpc from '@grpc/grpc-js';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskState, type Task } from '@a2a-js/sdk';
import { connect, fetchCard } from '../../src/client/connect.js';
import { Outbound } from '../../src/security/outbound.js';
import {
  peerIdentityFromGrpcCall,
  peerIdentityFromRequest,
  type PeerIdentity,
} from '../../src/security/principal.js';
import { TlsReloader } from '../../src/security/tls-files.js';
import { grpcServerCredentials } from '../../src/security/tls-grpc.js';
import { httpsServerOptions, type ClientAuth } from '../../src/security/tls-server.js';
import { certDir, TestCa, writeCa, writePem, type Pem } from '../helpers/certs.js';
import { closeSdkClient } from '../helpers/grpc.js';
import { userMessage } from '../helpers/sdk-client.js';
import { startServer, type TestServer } from '../helpers/server.js';

let ca: TestCa;
let otherCa: TestCa;
let good: Pem;
let spiffe: Pem;
let foreign: Pem;
let dir: string;
let serverFiles: { certFile: string; keyFile: string };
let caFile: string;
const closers: Array<() => Promise<void> | void> = [];

/** Outbound settings trusting the server's CA and presenting `client` (when given). */
async function outboundWith(client?: Pem, name = 'client'): Promise<Outbound> {
  const files = client ? await writePem(dir, `${name}-${Math.random().toString(36).slice(2)}`, client) : {};
  const o = await Outbound.create({ caFile, ...files });
  closers.push(() => o.close());
  return o;
}

beforeAll(async () => {
  ca = await TestCa.create('agentd test CA');
  otherCa = await TestCa.create('someone else');
  dir = await certDir();
  serverFiles = await writePem(dir, 'server', await ca.issue({ commonName: 'agentd', server: true }));
  caFile = await writeCa(dir, 'ca', ca);
  good = await ca.issue({ commonName: 'billing', dnsNames: ['billing.internal'], client: true });
  spiffe = await ca.issue({
    commonName: 'worker',
    uris: ['spiffe://example.org/ns/a2a/sa/worker'],
    client: true,
  });
  foreign = await otherCa.issue({ commonName: 'billing', dnsNames: ['billing.internal'], client: true });
});

afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

const send = (text: string) => ({
  tenant: '',
  message: userMessage(text),
  configuration: undefined,
  metadata: undefined,
});

async function sendOver(ts: TestServer, transport: 'jsonrpc' | 'grpc', outbound: Outbound): Promise<Task> {
  const { client } = await connect(ts.agentUrl('echo'), transport, outbound);
  try {
    return (await client.sendMessage(send('hello'))) as Task;
  } finally {
    closeSdkClient(client);
  }
}

describe('mTLS required', () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startServer({ tls: { ...serverFiles, clientCaFile: caFile, clientAuth: 'required' } });
    closers.push(() => ts.close());
  });

  it('refuses a client without a certificate', async () => {
    await expect(fetchCard(ts.agentUrl('echo'), await outboundWith())).rejects.toThrow(/cannot reach/);
  });

  it('refuses a client certificate from another CA', async () => {
    await expect(fetchCard(ts.agentUrl('echo'), await outboundWith(foreign))).rejects.toThrow(/cannot reach/);
  });

  it('serves a client with a certificate from the client CA, over HTTP and gRPC', async () => {
    const outbound = await outboundWith(good);
    expect((await sendOver(ts, 'jsonrpc', outbound)).status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect((await sendOver(ts, 'grpc', outbound)).status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  });

  it('refuses a gRPC client without a certificate', async () => {
    // The card is fetched with a good certificate; the gRPC channel then presents none.
    const withCert = await outboundWith(good);
    const { card } = await fetchCard(ts.agentUrl('echo'), withCert);
    const address = card.supportedInterfaces.find((i) => i.protocolBinding === 'GRPC')?.url ?? '';
    const client = new grpc.Client(address, grpc.credentials.createSsl(Buffer.from(ca.cert)));
    try {
      const error = await new Promise<Error | undefined>((resolve) =>
        client.waitForReady(Date.now() + 3000, (e) => resolve(e)),
      );
      expect(error?.message).toMatch(/Failed to connect|deadline/i);
    } finally {
      client.close();
    }
  });
});

describe('mTLS optional', () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startServer({ tls: { ...serverFiles, clientCaFile: caFile, clientAuth: 'optional' } });
    closers.push(() => ts.close());
  });

  it('serves clients with and without a certificate', async () => {
    for (const outbound of [await outboundWith(), await outboundWith(good), await outboundWith(foreign)]) {
      expect((await sendOver(ts, 'jsonrpc', outbound)).status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect((await sendOver(ts, 'grpc', outbound)).status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    }
  });
});

/** A fastify HTTPS app and a grpc-js server that answer with the caller's PeerIdentity. */
async function identityServers(clientAuth: ClientAuth): Promise<{ httpsUrl: string; grpcAddress: string }> {
  const reloader = await TlsReloader.load({ ...serverFiles, caFile }, pino({ level: 'silent' }), 60_000);
  const tls = { reloader, clientAuth };
  const app: FastifyInstance = Fastify({ https: httpsServerOptions(tls) } as object);
  app.get('/whoami', (request) => ({ peer: peerIdentityFromRequest(request) ?? null }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const server = new grpc.Server();
  server.addService(WHOAMI, {
    whoAmI: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) =>
      callback(null, Buffer.from(JSON.stringify({ peer: peerIdentityFromGrpcCall(call) ?? null }))),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpcServerCredentials(tls), (e, p) => (e ? reject(e) : resolve(p))),
  );
  closers.push(async () => {
    await app.close();
    server.forceShutdown();
    reloader.close();
  });
  return {
    httpsUrl: `https://127.0.0.1:${(app.server.address() as { port: number }).port}`,
    grpcAddress: `127.0.0.1:${port}`,
  };
}

const identity = (b: Buffer): Buffer => b;
const WHOAMI: grpc.ServiceDefinition = {
  whoAmI: {
    path: '/agentd.test.Peer/WhoAmI',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

async function grpcPeer(address: string, client?: Pem): Promise<PeerIdentity | null> {
  const Peer = grpc.makeGenericClientConstructor(WHOAMI, 'Peer');
  const stub = new Peer(
    address,
    grpc.credentials.createSsl(
      Buffer.from(ca.cert),
      client ? Buffer.from(client.key) : null,
      client ? Buffer.from(client.cert) : null,
    ),
  );
  try {
    const reply = await new Promise<Buffer>((resolve, reject) =>
      (stub as unknown as { whoAmI: (r: Buffer, cb: (e: Error | null, r?: Buffer) => void) => void }).whoAmI(
        Buffer.alloc(0),
        (e, r) => (e ? reject(e) : resolve(r as Buffer)),
      ),
    );
    return (JSON.parse(reply.toString('utf8')) as { peer: PeerIdentity | null }).peer;
  } finally {
    stub.close();
  }
}

async function httpsPeer(url: string, client?: Pem): Promise<PeerIdentity | null> {
  const outbound = await outboundWith(client);
  const res = await outbound.for(url).fetch(`${url}/whoami`);
  return ((await res.json()) as { peer: PeerIdentity | null }).peer;
}

describe('peer identity of a verified client certificate', () => {
  let servers: { httpsUrl: string; grpcAddress: string };
  beforeAll(async () => {
    servers = await identityServers('optional');
  });

  it('maps the subject CN, DNS and URI SANs and fingerprint, on HTTPS and gRPC', async () => {
    const expected = {
      commonName: 'billing',
      dnsNames: ['billing.internal'],
      uris: [],
      fingerprint256: good.fingerprint256,
    };
    expect(await httpsPeer(servers.httpsUrl, good)).toEqual(expected);
    expect(await grpcPeer(servers.grpcAddress, good)).toEqual(expected);
    const spiffeId = {
      commonName: 'worker',
      dnsNames: [],
      uris: ['spiffe://example.org/ns/a2a/sa/worker'],
      fingerprint256: spiffe.fingerprint256,
    };
    expect(await httpsPeer(servers.httpsUrl, spiffe)).toEqual(spiffeId);
    expect(await grpcPeer(servers.grpcAddress, spiffe)).toEqual(spiffeId);
  });

  it('is absent without a certificate, and for a certificate that did not verify', async () => {
    expect(await httpsPeer(servers.httpsUrl)).toBeNull();
    expect(await grpcPeer(servers.grpcAddress)).toBeNull();
    expect(await httpsPeer(servers.httpsUrl, foreign)).toBeNull();
    expect(await grpcPeer(servers.grpcAddress, foreign)).toBeNull();
  });

  it('is absent on plaintext HTTP', async () => {
    const app = Fastify();
    app.get('/whoami', (request) => ({ peer: peerIdentityFromRequest(request) ?? null }));
    const res = await app.inject({ url: '/whoami' });
    expect(res.json()).toEqual({ peer: null });
    await app.close();
  });
});
