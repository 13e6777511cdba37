/**
 * Calls to a flaky peer over real HTTP: passing failures (503, 429, a retryable ErrorInfo,
 * a refused connection, a slow answer) are retried with growing delays and the same
 * messageId; refusals are not; timeouts are PEER_TIMEOUT; an abort stops the retries.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isAgentdError } from '../../src/errors.js';
import type { AgentCaller } from '../../src/engine/agent-caller.js';
import { rpcError, startFakePeer, type FakePeer } from '../helpers/fake-peer.js';
import { testCaller } from '../helpers/caller.js';

let peer: FakePeer;
let caller: AgentCaller;

afterEach(async () => {
  await caller?.close();
  await peer?.close();
});

function textOf(result: unknown): string {
  const parts = (result as { parts?: Array<{ content?: { value?: unknown } }> }).parts ?? [];
  return parts.map((p) => String(p.content?.value ?? '')).join('');
}

describe('retries of calls to another agent', () => {
  it('succeeds after 503s, resending the same messageId, with growing delays', async () => {
    peer = await startFakePeer();
    peer.respond = (n) => (n < 3 ? { status: 503, body: { error: 'busy' } } : undefined);
    const retried: string[] = [];
    const sent: Array<[string, boolean]> = [];
    caller = testCaller(
      { retry: { attempts: 4, initialDelayMs: 40, maxDelayMs: 1000 } },
      {
        observer: {
          messageSent: (recipient, delivered) => sent.push([recipient, delivered]),
          peerRetried: (p) => retried.push(p),
        },
      },
    );

    const answer = await caller.send(peer.url, 'hello', {});

    expect(peer.requests).toHaveLength(4);
    const ids = new Set(peer.requests.map((r) => r.messageId));
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    expect(peer.runs.get(id as string)).toBe(1);
    expect(textOf(answer)).toBe(`ran ${id}`);
    const at = peer.requests.map((r) => r.at);
    const gaps = at.slice(1).map((t, i) => t - (at[i] as number));
    // Delays of 20-40, 40-80 and 80-160 ms: the third is longer than the first can be.
    expect(gaps[2]).toBeGreaterThan(gaps[0] as number);
    expect(gaps[0]).toBeGreaterThanOrEqual(15);
    expect(retried).toEqual(['flaky', 'flaky', 'flaky']);
    expect(sent).toEqual([['flaky', true]]);
  });

  it('does not retry a refusal (invalid params), and passes it on', async () => {
    peer = await startFakePeer();
    peer.respond = (_n, _r, id) => ({ status: 200, body: rpcError(id, -32602, 'INVALID_PARAMS', false) });
    caller = testCaller({ retry: { attempts: 3, initialDelayMs: 1 } });
    await expect(caller.send(peer.url, 'hello')).rejects.toThrow(/INVALID_PARAMS/);
    expect(peer.requests).toHaveLength(1);
  });

  it('does not retry an HTTP 400 or 404', async () => {
    peer = await startFakePeer();
    peer.respond = (n) => ({ status: n === 0 ? 400 : 404, body: { error: 'no' } });
    caller = testCaller({ retry: { attempts: 3, initialDelayMs: 1 } });
    await expect(caller.send(peer.url, 'one')).rejects.toThrow();
    await expect(caller.send(peer.url, 'two')).rejects.toThrow();
    expect(peer.requests).toHaveLength(2);
  });

  it('retries an error whose ErrorInfo says retryable (QUEUE_FULL on a 200 JSON-RPC answer)', async () => {
    peer = await startFakePeer();
    peer.respond = (n, _r, id) =>
      n === 0 ? { status: 200, body: rpcError(id, -32051, 'QUEUE_FULL', true) } : undefined;
    caller = testCaller({ retry: { attempts: 2, initialDelayMs: 1 } });
    await caller.send(peer.url, 'hello');
    expect(peer.requests).toHaveLength(2);
  });

  it('waits for the Retry-After of a 429, up to maxDelayMs', async () => {
    peer = await startFakePeer();
    peer.respond = (n) =>
      n === 0 ? { status: 429, headers: { 'retry-after': '0.3' }, body: {} } : undefined;
    caller = testCaller({ retry: { attempts: 2, initialDelayMs: 1, maxDelayMs: 5000 } });
    await caller.send(peer.url, 'hello');
    const [first, second] = peer.requests;
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(280);
  });

  it('gives up after the attempts with PEER_UNAVAILABLE naming the agent', async () => {
    peer = await startFakePeer();
    peer.respond = () => ({ status: 502, body: {} });
    caller = testCaller({ retry: { attempts: 3, initialDelayMs: 1 } });
    const error: unknown = await caller.send(peer.url, 'hello').catch((e: unknown) => e);
    expect(isAgentdError(error, 'PEER_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toMatch(/Agent "flaky".*3 attempts/);
    expect(peer.requests).toHaveLength(3);
  });

  it('retries a refused connection, then says the agent is unavailable', async () => {
    const port = await freePort();
    caller = testCaller({ retry: { attempts: 2, initialDelayMs: 1 } });
    const error: unknown = await caller.send(`http://127.0.0.1:${port}`, 'hello').catch((e: unknown) => e);
    expect(isAgentdError(error, 'PEER_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toMatch(/2 attempts.*cannot reach/);
  });

  it('turns a slow answer into PEER_TIMEOUT, after retrying it', async () => {
    peer = await startFakePeer();
    peer.respond = () => ({ status: 200, body: {}, delayMs: 400 });
    caller = testCaller({ callTimeoutMs: 60_000, retry: { attempts: 2, initialDelayMs: 1 } });
    const started = performance.now();
    const error: unknown = await caller.send(peer.url, 'hello', { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(isAgentdError(error, 'PEER_TIMEOUT')).toBe(true);
    expect((error as Error).message).toMatch(/within 100 ms \(2 attempts\)/);
    expect(peer.requests).toHaveLength(2);
    expect(performance.now() - started).toBeLessThan(390);
  });

  it('bounds a card fetch that hangs by the same timeout', async () => {
    peer = await startFakePeer();
    peer.cardDelayMs = 2000;
    caller = testCaller({ retry: { attempts: 1 } });
    const started = performance.now();
    const error: unknown = await caller.send(peer.url, 'hello', { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(isAgentdError(error, 'PEER_TIMEOUT')).toBe(true);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(peer.requests).toHaveLength(0);
  });

  it('applies a per-target timeout from outbound.targets', async () => {
    peer = await startFakePeer();
    peer.respond = () => ({ status: 200, body: {}, delayMs: 400 });
    caller = testCaller({ targets: [{ url: peer.url, timeoutMs: 80 }], retry: { attempts: 1 } });
    const error: unknown = await caller.send(peer.url, 'hello').catch((e: unknown) => e);
    expect(isAgentdError(error, 'PEER_TIMEOUT')).toBe(true);
    expect((error as Error).message).toMatch(/within 80 ms/);
  });

  it('stops retrying when the caller aborts, without waiting out the backoff', async () => {
    peer = await startFakePeer();
    const controller = new AbortController();
    peer.respond = () => {
      setImmediate(() => controller.abort());
      return { status: 503, body: {} };
    };
    caller = testCaller({ retry: { attempts: 5, initialDelayMs: 5000, maxDelayMs: 5000 } });
    const started = performance.now();
    const error: unknown = await caller
      .send(peer.url, 'hello', { signal: controller.signal })
      .catch((e: unknown) => e);
    expect((error as Error).name).toBe('AbortError');
    expect(performance.now() - started).toBeLessThan(2000);
    expect(peer.requests).toHaveLength(1);
  });

  it('retries GetTask and CancelTask too', async () => {
    peer = await startFakePeer();
    peer.respond = (n) => (n % 2 === 0 ? { status: 503, body: {} } : undefined);
    caller = testCaller({ retry: { attempts: 2, initialDelayMs: 1 } });
    expect((await caller.getTask(peer.url, 'task-7')).id).toBe('task-7');
    expect((await caller.cancelTask(peer.url, 'task-7')).id).toBe('task-7');
    expect(peer.requests.map((r) => r.method)).toEqual(['GetTask', 'GetTask', 'CancelTask', 'CancelTask']);
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
