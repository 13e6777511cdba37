/**
 * Regions (`AGENTD_REGION`): agents registered with their server's region, calls by
 * capability preferring the caller's region and falling back to others, and the region on
 * `agent_info`, on discovery answers and on every log line.
 */
import type { AgentCard } from '@a2a-js/sdk';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeerPicker } from '../../src/engine/peer-picker.js';
import { createLogger } from '../../src/observability/logger.js';
import type { RegisteredAgent } from '../../src/store/ports.js';
import { startServer, type TestServer } from '../helpers/server.js';

function agent(name: string, region: string | undefined): RegisteredAgent {
  const card = { skills: [{ id: 'translate', tags: [] }] } as unknown as AgentCard;
  return {
    serverId: `s-${name}`,
    name,
    cardUrl: `http://${name}.example/card.json`,
    card,
    ...(region ? { region } : {}),
  };
}

describe('regions', () => {
  const agents = [
    agent('us-1', 'us-east'),
    agent('eu-1', 'eu-west'),
    agent('eu-2', 'eu-west'),
    agent('any', undefined),
  ];
  const open = new Set<string>();
  const load = {
    breakerState: (url: string) => (open.has(url) ? ('open' as const) : ('closed' as const)),
    inFlight: () => 0,
  };

  it('picks among the agents of its own region first', async () => {
    const picker = new PeerPicker(load, async () => agents, 'eu-west');
    const names: string[] = [];
    for (let i = 0; i < 4; i++) names.push((await picker.pick('translate')).name);
    expect(names).toEqual(['eu-1', 'eu-2', 'eu-1', 'eu-2']);
  });

  it('falls back to other regions when none of its own is usable', async () => {
    const picker = new PeerPicker(load, async () => agents, 'eu-west');
    open.add(agent('eu-1', 'eu-west').cardUrl).add(agent('eu-2', 'eu-west').cardUrl);
    try {
      const names = new Set<string>();
      for (let i = 0; i < 4; i++) names.add((await picker.pick('translate')).name);
      expect([...names].sort()).toEqual(['any', 'us-1']);
    } finally {
      open.clear();
    }
  });

  it('without a region takes every agent in turn', async () => {
    const picker = new PeerPicker(load, async () => agents);
    const names = new Set<string>();
    for (let i = 0; i < 4; i++) names.add((await picker.pick('translate')).name);
    expect(names.size).toBe(4);
  });

  it('puts the region on every log line', () => {
    let written = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        written += chunk.toString();
        cb();
      },
    });
    createLogger('info', sink, { region: 'eu-west' }).info('hello');
    expect(JSON.parse(written.trim())).toMatchObject({ service: 'agentd', region: 'eu-west', msg: 'hello' });
  });

  describe('a server with a region', () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startServer({ server: { region: 'eu-west' } });
    });
    afterAll(async () => {
      await t.close();
    });

    it('registers its agents with it and labels agent_info', async () => {
      const found = (await (await fetch(`${t.url}/api/v1/agents`)).json()) as {
        agents: Array<{ name: string; region?: string }>;
      };
      expect(found.agents.map((a) => [a.name, a.region])).toEqual([
        ['echo', 'eu-west'],
        ['countdown', 'eu-west'],
      ]);
      const metrics = await (await fetch(`http://${t.server.metricsAddress}/metrics`)).text();
      expect(metrics).toMatch(
        /agent_info\{service="agentd",version="[^"]+",environment="production",region="eu-west"\} 1/,
      );
    });
  });
});
