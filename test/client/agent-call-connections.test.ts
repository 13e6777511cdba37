/**
 * What a peer sees of agentd's calls: one keep-alive connection for many calls, the card
 * fetched once while fresh and revalidated with If-None-Match after its max-age (a 304
 * keeps it), and the caller's metrics counted once per call, not per attempt.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentCaller } from '../../src/engine/agent-caller.js';
import { AgentdMetrics } from '../../src/observability/metrics.js';
import { startFakePeer, type FakePeer } from '../helpers/fake-peer.js';
import { testCaller } from '../helpers/caller.js';

let peer: FakePeer;
let caller: AgentCaller;
let metrics: AgentdMetrics | undefined;

afterEach(async () => {
  metrics?.close();
  metrics = undefined;
  await caller?.close();
  await peer?.close();
});

describe('connections and cards of calls to another agent', () => {
  it('reuses its keep-alive connections for many sequential calls', async () => {
    peer = await startFakePeer();
    caller = testCaller();
    for (let i = 0; i < 25; i++) await caller.send(peer.url, `call ${i}`);
    await caller.getTask(peer.url, 'task-1');
    expect(peer.requests).toHaveLength(26);
    // undici hands the next request to a second idle socket while the first is still being
    // released, so sequential calls alternate between two connections: never one per call.
    expect(peer.connections).toBeLessThanOrEqual(2);
  });

  it('opens at most maxConnectionsPerPeer connections for concurrent calls', async () => {
    peer = await startFakePeer();
    caller = testCaller({ maxConnectionsPerPeer: 3 });
    await caller.send(peer.url, 'warm up');
    await Promise.all(Array.from({ length: 12 }, (_, i) => caller.send(peer.url, `call ${i}`)));
    expect(peer.requests).toHaveLength(13);
    expect(peer.connections).toBeLessThanOrEqual(3);
  });

  it('fetches a fresh card once', async () => {
    peer = await startFakePeer();
    caller = testCaller();
    for (let i = 0; i < 3; i++) await caller.send(peer.url, `call ${i}`);
    expect(peer.cardRequests).toEqual([{ ifNoneMatch: undefined, status: 200 }]);
  });

  it('revalidates a stale card with If-None-Match and keeps it on 304', async () => {
    peer = await startFakePeer();
    peer.cacheControl = 'public, max-age=0';
    caller = testCaller();
    await caller.send(peer.url, 'first');
    await caller.send(peer.url, 'second');
    expect(peer.cardRequests).toEqual([
      { ifNoneMatch: undefined, status: 200 },
      { ifNoneMatch: '"card-flaky-1"', status: 304 },
    ]);
    expect(peer.requests.map((r) => r.method)).toEqual(['SendMessage', 'SendMessage']);
  });

  it('closes its connections on close()', async () => {
    peer = await startFakePeer();
    caller = testCaller();
    await caller.send(peer.url, 'hello');
    await caller.close();
    await expect(caller.send(peer.url, 'again')).rejects.toThrow();
  });

  it('counts a2a_messages_sent_total and the latency once per call, retries apart', async () => {
    peer = await startFakePeer();
    peer.respond = (n) => (n < 2 ? { status: 503, body: {} } : undefined);
    metrics = new AgentdMetrics({
      service: 'agentd',
      version: 'test',
      environment: 'test',
      activeWorkflows: () => 0,
    });
    caller = testCaller({ retry: { attempts: 3, initialDelayMs: 1 } }, { observer: metrics });
    await caller.send(peer.url, 'hello');
    const text = await metrics.exposition();
    expect(text).toContain('a2a_messages_sent_total{message_type="SendMessage",recipient="flaky"} 1');
    expect(text).toContain('a2a_message_latency_seconds_count{message_type="SendMessage"} 1');
    expect(text).toContain('agentd_peer_retries_total{peer="flaky"} 2');
  });
});
