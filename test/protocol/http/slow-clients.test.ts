/**
 * Slow and greedy clients on the HTTP listener, with short configured limits: a client that
 * never finishes its headers, or its body, is answered 408 and disconnected once the timeout
 * passes; a connection over `httpMaxConnections` is refused while the ones already open are
 * served. Every wait is on a socket event, none is a sleep.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../../helpers/server.js';

/** A raw connection that records what the server sent and resolves `closed` when it closes. */
function open(url: string): {
  socket: Socket;
  received: () => string;
  closed: Promise<void>;
  ready: Promise<void>;
} {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let data = '';
  socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
  socket.on('error', () => undefined);
  return {
    socket,
    received: () => data,
    closed: new Promise((resolve) => socket.once('close', () => resolve())),
    ready: new Promise((resolve) => socket.once('connect', () => resolve())),
  };
}

describe('HTTP timeouts (headers 400 ms, request 800 ms)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ server: { httpHeadersTimeoutMs: 400, httpRequestTimeoutMs: 800 } });
  });
  afterAll(() => t.close());

  it('a client that never finishes its headers gets 408 and is disconnected', async () => {
    const c = open(t.url);
    await c.ready;
    const started = Date.now();
    c.socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    await c.closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(c.received()).toContain('"reason":"REQUEST_TIMEOUT"');
  });

  it('a client that never finishes its body gets 408 and is disconnected', async () => {
    const c = open(t.url);
    await c.ready;
    const started = Date.now();
    c.socket.write(
      'POST /a2a/echo/rest/message:send HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
        'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"message":',
    );
    await c.closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(750);
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('the server keeps serving', async () => {
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
  });
});

describe('connection cap (httpMaxConnections 3)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ server: { httpMaxConnections: 3 } });
  });
  afterAll(() => t.close());

  it('a fourth connection is closed at once; the three open ones are still served', async () => {
    const held = [open(t.url), open(t.url), open(t.url)];
    await Promise.all(held.map((c) => c.ready));
    // Each of the three is accepted: it answers a request.
    for (const c of held) {
      const answered = new Promise<void>((resolve) => c.socket.once('data', () => resolve()));
      c.socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await answered;
      expect(c.received()).toMatch(/^HTTP\/1\.1 200 /);
    }
    const extra = open(t.url);
    extra.socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await extra.closed;
    expect(extra.received()).toBe('');
    // An open connection is served again after the refusal.
    const first = held[0] as ReturnType<typeof open>;
    const again = new Promise<void>((resolve) => first.socket.once('data', () => resolve()));
    first.socket.write('GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await again;
    expect(first.received().match(/HTTP\/1\.1 200 /g)).toHaveLength(2);
    for (const c of held) c.socket.destroy();
    await Promise.all(held.map((c) => c.closed));
  });
});
