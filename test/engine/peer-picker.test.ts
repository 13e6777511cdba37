/**
 * Picking an agent to call by capability, over a real agentd's registry: round-robin across
 * the agents that have it, least-loaded by calls in flight, skipping an agent whose circuit
 * breaker is open, and NO_AGENT_FOR_CAPABILITY naming the capability when none is left.
 */
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAgentdError } from '../../src/errors.js';
import { startServer, type TestServer } from '../helpers/server.js';

const skill = { id: 'translate', name: 'Translate', tags: ['language'] };
let t: TestServer;
let deadCardUrl: string;

beforeAll(async () => {
  t = await startServer({
    agents: [
      { name: 'echo', kind: 'echo', default: true },
      { name: 'french', kind: 'echo', skills: [skill] },
      { name: 'german', kind: 'echo', skills: [skill] },
    ],
    outbound: { retry: { attempts: 1 }, breaker: { threshold: 1, halfOpenAfterMs: 60_000 } },
  });
});
afterAll(async () => {
  await t.close();
});

describe('picking a peer by capability', () => {
  it('alternates round-robin between the agents with the capability', async () => {
    const names: string[] = [];
    for (let i = 0; i < 4; i++) names.push((await t.server.peers.pick('translate')).name);
    expect(names).toEqual(['french', 'german', 'french', 'german']);
    // A tag is a capability too; each capability has its own turn.
    expect((await t.server.peers.pick('language')).name).toBe('french');
  });

  it('picks the agent with the fewest calls in flight from this process', async () => {
    const french = await t.server.peers.pick('translate', 'least-loaded');
    expect(french.name).toBe('french');
    const other = await t.server.peers.pick('translate', 'least-loaded', [french.cardUrl]);
    expect(other.name).toBe('german');
    // A call in flight to "french" makes "german" the least loaded.
    const frenchUrl = french.cardUrl;
    const slow = t.server.caller.stream(frenchUrl, 'hello');
    const first = await slow.next();
    expect(first.done).toBe(false);
    expect(t.server.caller.inFlight(frenchUrl)).toBe(1);
    expect((await t.server.peers.pick('translate', 'least-loaded')).name).toBe('german');
    await slow.return();
    expect(t.server.caller.inFlight(frenchUrl)).toBe(0);
  });

  it('skips an agent whose circuit breaker is open', async () => {
    // A third agent with the capability, registered by a server that is gone.
    const card = t.server.engine.agent('french').card;
    deadCardUrl = `http://127.0.0.1:${await freePort()}/a2a/gone/.well-known/agent-card.json`;
    await t.server.store.registry.register(
      'gone-server',
      [{ name: 'gone', cardUrl: deadCardUrl, card: { ...card, name: 'gone' } }],
      60_000,
    );
    const error: unknown = await t.server.caller.send(deadCardUrl, 'hello').catch((e: unknown) => e);
    expect(isAgentdError(error, 'PEER_UNAVAILABLE')).toBe(true);
    expect(t.server.caller.breakerState(deadCardUrl)).toBe('open');
    const names = new Set<string>();
    for (let i = 0; i < 6; i++) names.add((await t.server.peers.pick('translate')).name);
    expect([...names].sort()).toEqual(['french', 'german']);
  });

  it('says no agent is left, and why, with NO_AGENT_FOR_CAPABILITY', async () => {
    const unknown: unknown = await t.server.peers.pick('astrology').catch((e: unknown) => e);
    expect(isAgentdError(unknown, 'NO_AGENT_FOR_CAPABILITY')).toBe(true);
    expect((unknown as Error).message).toMatch(/"astrology": no registered agent has it/);

    const live = (await t.server.peers.pick('translate')).cardUrl;
    const other = (await t.server.peers.pick('translate')).cardUrl;
    const excluded: unknown = await t.server.peers
      .pick('translate', 'round-robin', [live, other])
      .catch((e: unknown) => e);
    expect(isAgentdError(excluded, 'NO_AGENT_FOR_CAPABILITY')).toBe(true);
    expect((excluded as Error).message).toMatch(
      /"translate": 1 agent has it but its circuit breaker is open/,
    );
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
