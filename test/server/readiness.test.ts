import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { AgentdServer } from '../../src/server/agentd-server.js';

describe('readiness follows the server lifecycle', () => {
  it('is not ready before every listener is bound, ready after start, not ready once draining', async () => {
    const config = configSchema.parse({
      server: { host: '127.0.0.1', httpPort: 0, grpcPort: 0 },
      agents: [{ name: 'echo', kind: 'echo' }],
    });
    const server = await AgentdServer.create(config, pino({ level: 'silent' }), process.cwd());
    const before = await server.health.run('readiness');
    expect(before.status).toBe('not_ready');
    expect(before.checks.accepting_work?.error).toContain('starting');

    const { url, grpcAddress } = await server.start();
    expect(grpcAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    const ready = await fetch(`${url}/ready`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { status: string }).status).toBe('ready');

    const stopping = server.shutdown(500);
    const during = await server.health.run('readiness');
    expect(during.status).toBe('not_ready');
    expect(during.checks.accepting_work?.error).toContain('draining');
    await stopping;
  });
});
