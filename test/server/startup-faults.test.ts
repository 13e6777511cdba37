/**
 * Starting up in a hostile environment. A listener that cannot bind ends the process with
 * exit 1 and a message naming the port and the setting, within seconds (never a process
 * that stays up half-started). A Redis store that is down at start does not: agentd
 * starts, reports not ready with the reason, and becomes ready by itself once Redis is up.
 */
import { createServer, type Server } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawnAgentd, stopStarted, removeWorkDir, writeConfig } from '../helpers/agentd-process.js';
import { freePort, startRedis, type RedisProcess } from '../helpers/redis-server.js';
import { eventually } from '../helpers/server.js';

function occupy(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function config(name: string, fields: Record<string, unknown>): string {
  return writeConfig(
    name,
    JSON.stringify({ agents: [{ name: 'echo', kind: 'echo', default: true }], ...fields }),
  );
}

describe('a listener that cannot bind', () => {
  const blockers: Server[] = [];
  afterEach(() => {
    for (const b of blockers.splice(0)) b.close();
    stopStarted();
  });
  afterAll(() => removeWorkDir());

  const cases: Array<
    [listener: string, names: RegExp, build: (port: number, free: number) => Record<string, unknown>]
  > = [
    [
      'HTTP',
      /HTTP port (\d+) on 127\.0\.0\.1 is already in use; choose another with server\.httpPort, HTTP_PORT or --port/,
      (port, free) => ({
        server: { host: '127.0.0.1', httpPort: port, grpcPort: free },
        prometheus: { enabled: false },
      }),
    ],
    [
      'gRPC',
      /gRPC port (\d+) on 127\.0\.0\.1 is already in use; choose another with server\.grpcPort, GRPC_PORT or --grpc-port/,
      (port) => ({
        server: { host: '127.0.0.1', httpPort: 0, grpcPort: port },
        prometheus: { enabled: false },
      }),
    ],
    [
      'metrics',
      /metrics port (\d+) on 127\.0\.0\.1 is already in use; choose another with prometheus\.port or METRICS_PORT/,
      (port) => ({ server: { host: '127.0.0.1', httpPort: 0, grpcPort: 0 }, prometheus: { port } }),
    ],
  ];

  it.each(cases)(
    '%s port in use: a clear message and exit 1 within seconds',
    async (listener, names, build) => {
      const port = await freePort();
      blockers.push(await occupy(port));
      const file = config(`busy-${listener}.json`, build(port, await freePort()));
      const started = Date.now();
      const agentd = spawnAgentd(['serve', '--config', file]);
      const { code, at } = await agentd.exited;
      expect(code).toBe(1);
      expect(at - started).toBeLessThan(10_000);
      const match = names.exec(agentd.stderr());
      expect(match?.[1]).toBe(String(port));
      expect(agentd.stderr()).not.toMatch(/listening on/);
    },
  );
});

describe('Redis down when agentd starts', () => {
  let redis: RedisProcess | undefined;
  afterAll(async () => {
    stopStarted();
    await redis?.stop();
    removeWorkDir();
  });

  it('starts not ready, naming the store, and becomes ready by itself when Redis comes up', async () => {
    const redisPort = await freePort();
    const file = config('redis-down.json', {
      server: { host: '127.0.0.1', httpPort: 0, transport: 'http' },
      prometheus: { enabled: false },
      store: { kind: 'redis', redis: { url: `redis://127.0.0.1:${redisPort}`, keyPrefix: 'down-at-start:' } },
      registry: { heartbeatSeconds: 30 },
    });
    const agentd = spawnAgentd(['serve', '--config', file]);
    const url = await agentd.url;

    const notReady = await fetch(`${url}/ready`);
    expect(notReady.status).toBe(503);
    const report = (await notReady.json()) as { checks: Record<string, { status: string; error?: string }> };
    expect(report.checks.store_redis?.status).toBe('fail');
    expect(report.checks.store_redis?.error).toMatch(/Redis connection is (reconnecting|connecting)/);
    // Listeners are bound and cards are final: only the store holds readiness back.
    expect(report.checks.accepting_work?.status).toBe('pass');

    redis = await startRedis({ port: redisPort });
    await eventually(
      async () => (await fetch(`${url}/ready`)).status === 200,
      20_000,
      'ready after Redis came up',
    );
    // The agents got registered once the store answered (well before the next heartbeat).
    await eventually(
      async () => {
        const res = await fetch(`${url}/api/v1/agents`);
        const body = (await res.json()) as { agents?: Array<{ name: string }> };
        return res.status === 200 && (body.agents ?? []).some((a) => a.name === 'echo');
      },
      20_000,
      'agents registered',
    );
    const send = await fetch(`${url}/a2a/echo/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'a2a-version': '1.0' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'SendMessage',
        params: { message: { messageId: 'm1', role: 'ROLE_USER', parts: [{ text: 'up' }] } },
      }),
    });
    const answer = (await send.json()) as { result?: { task?: { status?: { state?: string } } } };
    expect(answer.result?.task?.status?.state).toBe('TASK_STATE_COMPLETED');
    expect(agentd.child.exitCode).toBeNull();
  }, 60_000);
});

describe('agent cards while the server starts', () => {
  afterAll(() => {
    stopStarted();
    removeWorkDir();
  });

  it('are never served with placeholder URLs: the first card a client gets is the final one', async () => {
    const [httpPort, grpcPort] = [await freePort(), await freePort()];
    const root = resolve(import.meta.dirname, '../..');
    // An MCP server to connect to widens the time between the HTTP listener opening and
    // the cards getting their final URLs.
    const file = config('cards-at-start.json', {
      server: { host: '127.0.0.1', httpPort, grpcPort },
      prometheus: { enabled: false },
      mcp: {
        servers: [
          {
            name: 'demo',
            transport: 'stdio',
            command: 'node',
            args: [join(root, 'bin/agentd.js'), 'mcp-demo-server'],
          },
        ],
      },
      agents: [
        { name: 'echo', kind: 'echo', default: true },
        { name: 'tools', kind: 'tools', servers: ['demo'] },
      ],
    });
    const agentd = spawnAgentd(['serve', '--config', file]);
    const cardUrl = `http://127.0.0.1:${httpPort}/.well-known/agent-card.json`;
    // As a client starting at the same time would: ask until the port answers.
    let card: { supportedInterfaces?: Array<{ url: string; protocolBinding: string }> } | undefined;
    while (!card) {
      const res = await fetch(cardUrl).catch(() => undefined);
      if (res) card = (await res.json()) as typeof card;
      else await new Promise((r) => setImmediate(r));
    }
    const urls = (card?.supportedInterfaces ?? []).map((i) => `${i.protocolBinding} ${i.url}`);
    expect(urls).toContain(`JSONRPC http://127.0.0.1:${httpPort}/a2a/echo/`);
    expect(urls).toContain(`GRPC 127.0.0.1:${grpcPort}`);
    await agentd.url;
  }, 30_000);
});
