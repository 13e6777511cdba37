/**
 * The HTTP hardening limits on a TLS listener (tls.certFile/keyFile), as on the plaintext
 * one (test/protocol/http/slow-clients.test.ts): a client that stalls its headers or its
 * body after the handshake is answered 408 and disconnected once `httpRequestTimeoutMs`
 * passes, and a TLS connection over `httpMaxConnections` is closed while the ones already
 * open are served. Every wait is on a socket event, none is a sleep.
 */
import { connect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certDir, TestCa, writePem } from '../helpers/certs.js';
import { startServer, type TestServer } from '../helpers/server.js';

let ca: TestCa;
let tls: { certFile: string; keyFile: string };

beforeAll(async () => {
  ca = await TestCa.create();
  tls = await writePem(await certDir(), 'server', await ca.issue({ commonName: 'agentd', server: true }));
});

/** A raw TLS connection that trusts the test CA and records what the server sent. */
interface RawTls {
  readonly socket: TLSSocket;
  received(): string;
  /** Resolves when the socket closes, however. */
  readonly closed: Promise<void>;
  /** Resolves when the handshake completes; rejects if the socket closes or fails first. */
  readonly secured: Promise<void>;
}

function open(url: string): RawTls {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port), ca: ca.cert, servername: 'localhost' });
  let data = '';
  socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const secured = new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => resolve());
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed before the TLS handshake completed')));
  });
  // Later errors (a reset after the server's close) are expected; `closed` reports the end.
  socket.on('error', () => undefined);
  secured.catch(() => undefined);
  return { socket, received: () => data, closed, secured };
}

/** Writes a request on an open connection and resolves with the status line of its answer. */
async function ask(c: RawTls, request: string): Promise<string> {
  const statusLines = (): string[] => c.received().match(/HTTP\/1\.1 \d{3} /g) ?? [];
  const before = statusLines().length;
  const answered = new Promise<void>((resolve) => {
    const check = (): void => {
      if (statusLines().length <= before) return;
      c.socket.off('data', check);
      resolve();
    };
    c.socket.on('data', check);
  });
  c.socket.write(request);
  await answered;
  return statusLines().at(-1) ?? '';
}

describe('TLS listener timeouts (headers 400 ms, request 800 ms)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ tls, server: { httpHeadersTimeoutMs: 400, httpRequestTimeoutMs: 800 } });
  });
  afterAll(() => t.close());

  it('a client that never finishes its headers gets 408 and is disconnected', async () => {
    const c = open(t.url);
    await c.secured;
    const started = Date.now();
    c.socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    await c.closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(c.received()).toContain('"reason":"REQUEST_TIMEOUT"');
  });

  it('a client that sends its headers but never finishes its body gets 408 and is disconnected', async () => {
    const c = open(t.url);
    await c.secured;
    const started = Date.now();
    c.socket.write(
      'POST /a2a/echo/rest/message:send HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
        'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"message":',
    );
    await c.closed;
    // Not the headers timeout: the headers were complete, the request timeout ended it.
    expect(Date.now() - started).toBeGreaterThanOrEqual(750);
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(c.received()).toContain('"reason":"REQUEST_TIMEOUT"');
  });

  it('the server keeps serving over TLS', async () => {
    const c = open(t.url);
    await c.secured;
    expect(await ask(c, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')).toBe('HTTP/1.1 200 ');
    c.socket.destroy();
    await c.closed;
  });
});

describe('TLS connection cap (httpMaxConnections 3)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ tls, server: { httpMaxConnections: 3 } });
  });
  afterAll(() => t.close());

  it('a fourth TLS connection is closed at once; the three open ones are still served', async () => {
    const held = [open(t.url), open(t.url), open(t.url)];
    await Promise.all(held.map((c) => c.secured));
    // Each of the three is accepted: it answers a request over TLS.
    for (const c of held) {
      expect(await ask(c, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')).toBe('HTTP/1.1 200 ');
    }
    const extra = open(t.url);
    await expect(extra.secured).rejects.toThrow();
    await extra.closed;
    expect(extra.received()).toBe('');
    // An open connection is served again after the refusal.
    const first = held[0] as RawTls;
    expect(await ask(first, 'GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')).toBe('HTTP/1.1 200 ');
    for (const c of held) c.socket.destroy();
    await Promise.all(held.map((c) => c.closed));
  });
});
