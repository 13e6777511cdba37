import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { HealthChecker } from '../../src/observability/health-checker.js';
import { AgentdServer } from '../../src/server/agentd-server.js';

describe('readiness follows the server lifecycle', () => {
  it('is not ready before every listener is bound, ready after start, not ready once draining', async () => {
    const config = configSchema.parse({
      server: { host: '127.0.0.1', httpPort: 0, grpcPort: 0 },
      prometheus: { port: 0 },
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

    const stopping = server.shutdown(500, 0);
    const during = await server.health.run('readiness');
    expect(during.status).toBe('not_ready');
    expect(during.checks.accepting_work?.error).toContain('draining');
    await stopping;
  });
});

describe('probes', () => {
  it('/startup is 503 until the server started, then 200; every probe has the standard shape', async () => {
    const config = configSchema.parse({
      server: { host: '127.0.0.1', httpPort: 0, grpcPort: 0 },
      prometheus: { port: 0 },
      agents: [{ name: 'echo', kind: 'echo' }],
    });
    const server = await AgentdServer.create(config, pino({ level: 'silent' }), process.cwd());
    const before = await server.health.probe('startup');
    expect(before.status).toBe('starting');
    expect(before.checks.listeners?.status).toBe('fail');
    const { url } = await server.start();
    try {
      for (const path of ['/health', '/ready', '/startup']) {
        const res = await fetch(`${url}${path}`);
        expect(res.status, path).toBe(200);
        const body = (await res.json()) as Record<string, unknown>;
        expect(Object.keys(body).sort()).toEqual(['checks', 'duration_ms', 'status', 'timestamp']);
        for (const check of Object.values(body.checks as Record<string, Record<string, unknown>>)) {
          expect(check).toMatchObject({ status: 'pass', checked_at: expect.any(String) });
        }
      }
      expect(((await (await fetch(`${url}/startup`)).json()) as { status: string }).status).toBe('started');
    } finally {
      await server.shutdown(500, 0);
    }
  });
});

describe('HealthChecker', () => {
  it('a check that hangs fails with its timeout instead of hanging the probe', async () => {
    const health = new HealthChecker(0);
    health.register('readiness', 'hung_dependency', () => new Promise<void>(() => {}), { timeoutMs: 100 });
    health.register('readiness', 'fine', () => true);
    const started = performance.now();
    const report = await health.run('readiness');
    expect(performance.now() - started).toBeLessThan(2000);
    expect(report.status).toBe('not_ready');
    expect(report.checks.hung_dependency).toMatchObject({ status: 'fail', error: 'timed out after 100 ms' });
    expect(report.checks.fine?.status).toBe('pass');
  });

  it('probes within the cache window share one run of the checks; invalidate() forces a new one', async () => {
    const health = new HealthChecker(60_000);
    let runs = 0;
    health.register('readiness', 'counted', () => {
      runs++;
    });
    await Promise.all([health.probe('readiness'), health.probe('readiness'), health.probe('readiness')]);
    await health.probe('readiness');
    expect(runs).toBe(1);
    health.invalidate();
    await health.probe('readiness');
    expect(runs).toBe(2);
  });

  it('a dependency that is down makes readiness 503 and names the failing check', async () => {
    const health = new HealthChecker(0);
    health.register('readiness', 'store_redis', () => {
      throw new Error('Redis connection is reconnecting');
    });
    const report = await health.run('readiness');
    expect(report.status).toBe('not_ready');
    expect(report.checks.store_redis).toMatchObject({
      status: 'fail',
      error: 'Redis connection is reconnecting',
    });
  });
});
