/**
 * `agentd_store_up{store="redis"}` (what the RedisUnavailable alert reads) follows a real
 * redis-server: 1 while it answers, 0 within one scrape once it is gone, and the scrape still
 * answers promptly instead of hanging on the dead connection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisProcess } from '../helpers/redis-server.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe('agentd_store_up with Redis', () => {
  let redis: RedisProcess;
  let t: TestServer;

  const scrape = async (): Promise<{ value: number | undefined; ms: number }> => {
    const started = performance.now();
    const body = await (await fetch(`http://${t.server.metricsAddress}/metrics`)).text();
    const line = body.split('\n').find((l) => l.startsWith('agentd_store_up{store="redis"} '));
    return { value: line ? Number(line.split(' ')[1]) : undefined, ms: performance.now() - started };
  };

  beforeAll(async () => {
    redis = await startRedis();
    t = await startServer({ store: { kind: 'redis', redis: { url: redis.url, keyPrefix: 'store-up:' } } });
  });
  afterAll(async () => {
    await t?.close();
    await redis?.stop();
  });

  it('is 1 while Redis answers and 0 once it is gone, without stalling the scrape', async () => {
    expect((await scrape()).value).toBe(1);
    await redis.stop();
    const down = await scrape();
    expect(down.value).toBe(0);
    // The ping gives up after one second at most.
    expect(down.ms).toBeLessThan(2500);
  });
});
