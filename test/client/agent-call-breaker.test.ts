/**
 * The circuit breaker per peer agent: it opens after `threshold` failures in a row (calls
 * then fail fast with PEER_UNAVAILABLE without reaching the peer), lets one trial call
 * through once `halfOpenAfterMs` has passed, and closes when that call succeeds.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isAgentdError } from '../../src/errors.js';
import type { AgentCaller } from '../../src/engine/agent-caller.js';
import { AgentdMetrics } from '../../src/observability/metrics.js';
import { rpcError, startFakePeer, type FakePeer } from '../helpers/fake-peer.js';
import { testCaller } from '../helpers/caller.js';
import { eventually } from '../helpers/server.js';

let peer: FakePeer;
let caller: AgentCaller;
let metrics: AgentdMetrics | undefined;

afterEach(async () => {
  metrics?.close();
  metrics = undefined;
  await caller?.close();
  await peer?.close();
});

describe('circuit breaker per peer agent', () => {
  it('opens after the threshold, fails fast, half-opens, and closes on success', async () => {
    peer = await startFakePeer('wobbly');
    let healthy = false;
    peer.respond = () => (healthy ? undefined : { status: 503, body: {} });
    caller = testCaller({ retry: { attempts: 1 }, breaker: { threshold: 2, halfOpenAfterMs: 300 } });
    metrics = new AgentdMetrics({
      service: 'agentd',
      version: 'test',
      environment: 'test',
      activeWorkflows: () => 0,
      peerBreakers: () => caller.breakerStates(),
    });

    for (const text of ['one', 'two']) {
      const error: unknown = await caller.send(peer.url, text).catch((e: unknown) => e);
      expect(isAgentdError(error, 'PEER_UNAVAILABLE')).toBe(true);
    }
    expect(caller.breakerState(peer.url)).toBe('open');
    expect(await metrics.exposition()).toContain('agentd_peer_breaker_state{peer="wobbly"} 1');

    const fast: unknown = await caller.send(peer.url, 'three').catch((e: unknown) => e);
    expect(isAgentdError(fast, 'PEER_UNAVAILABLE')).toBe(true);
    expect((fast as Error).message).toMatch(/Agent "wobbly".*circuit breaker is open.*tried again at/);
    expect(peer.requests).toHaveLength(2);

    await eventually(() => caller.breakerState(peer.url) === 'half-open', 5000, 'half-open');
    expect(await metrics.exposition()).toContain('agentd_peer_breaker_state{peer="wobbly"} 0.5');
    healthy = true;
    await caller.send(peer.url, 'four');
    expect(peer.requests).toHaveLength(3);
    expect(caller.breakerState(peer.url)).toBe('closed');
    expect(await metrics.exposition()).toContain('agentd_peer_breaker_state{peer="wobbly"} 0');
  });

  it('re-opens when the trial call fails', async () => {
    peer = await startFakePeer();
    peer.respond = () => ({ status: 503, body: {} });
    caller = testCaller({ retry: { attempts: 1 }, breaker: { threshold: 1, halfOpenAfterMs: 200 } });
    await caller.send(peer.url, 'one').catch(() => {});
    expect(caller.breakerState(peer.url)).toBe('open');
    await eventually(() => caller.breakerState(peer.url) === 'half-open', 5000, 'half-open');
    await caller.send(peer.url, 'trial').catch(() => {});
    expect(peer.requests).toHaveLength(2);
    expect(caller.breakerState(peer.url)).toBe('open');
  });

  it('does not count refusals: a peer answering "invalid params" is alive', async () => {
    peer = await startFakePeer();
    peer.respond = (_n, _r, id) => ({ status: 200, body: rpcError(id, -32602, 'INVALID_PARAMS', false) });
    caller = testCaller({ retry: { attempts: 1 }, breaker: { threshold: 2, halfOpenAfterMs: 60_000 } });
    for (let i = 0; i < 4; i++) await caller.send(peer.url, `n${i}`).catch(() => {});
    expect(peer.requests).toHaveLength(4);
    expect(caller.breakerState(peer.url)).toBe('closed');
  });

  it('counts each attempt: retries of one call can open the breaker', async () => {
    peer = await startFakePeer();
    peer.respond = () => ({ status: 503, body: {} });
    caller = testCaller({
      retry: { attempts: 5, initialDelayMs: 1 },
      breaker: { threshold: 3, halfOpenAfterMs: 60_000 },
    });
    const error: unknown = await caller.send(peer.url, 'hello').catch((e: unknown) => e);
    expect(isAgentdError(error, 'PEER_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toMatch(/circuit breaker is open/);
    expect(peer.requests).toHaveLength(3);
  });
});
