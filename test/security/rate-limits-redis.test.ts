/**
 * Rate limits across replicas: two agentd servers on one real redis-server share each
 * bucket (one Lua script per bucket, on Redis's clock), so a client spreading its requests
 * over both gets the cluster-wide limit, not twice it. With Redis gone the limit fails open:
 * requests are admitted, counted and logged.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisProcess } from '../helpers/redis-server.js';
import { startServer, type TestServer } from '../helpers/server.js';

const RATE = 10;
const BURST = 20;
const SECONDS = 3;

describe('rate limits on the Redis store', () => {
  let redis: RedisProcess;
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    redis = await startRedis();
    const config = {
      store: { kind: 'redis', redis: { url: redis.url, keyPrefix: 'rate-test:' } },
      rateLimits: { perIp: { ratePerSecond: RATE, burst: BURST } },
    };
    a = await startServer(config);
    b = await startServer(config);
  }, 300_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis?.stop();
  });

  /** One cheap request (the default agent's card, served from memory) to `server`. */
  const hit = async (server: TestServer): Promise<number> => {
    const res = await fetch(`${server.url}/.well-known/agent-card.json`);
    await res.arrayBuffer();
    return res.status;
  };

  it('holds the limit across both replicas: admitted ≈ burst + rate × elapsed (±10 %)', async () => {
    // Ten times what the limit admits over the run, evenly paced, alternating replicas.
    const total = 10 * (BURST + RATE * SECONDS);
    const started = performance.now();
    const answers: Array<Promise<number>> = [];
    for (let i = 0; i < total; i++) {
      const due = started + (i * SECONDS * 1000) / total;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      answers.push(hit(i % 2 === 0 ? a : b));
    }
    const statuses = await Promise.all(answers);
    // Every take ran on Redis between the first request sent and the last one answered.
    const elapsed = (performance.now() - started) / 1000;
    const admitted = statuses.filter((s) => s === 200).length;
    const refused = statuses.filter((s) => s === 429).length;
    expect(admitted + refused).toBe(total);
    const limit = BURST + RATE * elapsed;
    expect(
      admitted,
      `admitted ${admitted} of ${total} in ${elapsed.toFixed(2)} s; limit ${limit}`,
    ).toBeGreaterThanOrEqual(Math.floor(limit * 0.9));
    expect(
      admitted,
      `admitted ${admitted} of ${total} in ${elapsed.toFixed(2)} s; limit ${limit}`,
    ).toBeLessThanOrEqual(Math.ceil(limit * 1.1));
    // Both replicas refused some: one bucket, not one per replica.
    const refusedOn = (n: number) => statuses.filter((s, i) => i % 2 === n && s === 429).length;
    expect(refusedOn(0)).toBeGreaterThan(0);
    expect(refusedOn(1)).toBeGreaterThan(0);
  }, 60_000);

  it('keeps each bucket as one expiring key named by a digest (no address in Redis)', async () => {
    const client = new Redis(redis.url);
    try {
      const keys = await client.keys('rate-test:{rl:*');
      expect(keys).toHaveLength(1); // one client address, one server-wide bucket
      const key = keys[0] as string;
      expect(key).not.toContain('127.0.0.1');
      const ttl = await client.pttl(key);
      // It expires once full again: at most burst / rate seconds, plus a second of slack.
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual((BURST / RATE) * 1000 + 1000);
      expect(Object.keys(await client.hgetall(key)).sort()).toEqual(['at', 'tokens']);
    } finally {
      client.disconnect();
    }
  });

  it('fails open when Redis is down: requests are admitted, counted and logged', async () => {
    // Empty the bucket first, so an admission below can only be the fail-open.
    let refused = false;
    for (let i = 0; i < 3 * BURST && !refused; i++) refused = (await hit(a)) === 429;
    expect(refused).toBe(true);
    await redis.stop();
    const statuses: number[] = [];
    for (let i = 0; i < 2 * BURST; i++) statuses.push(await hit(a));
    expect(statuses.every((s) => s === 200)).toBe(true);
    const text = (await a.server.metrics?.exposition()) ?? '';
    const errors = Number(/^agentd_rate_limit_store_errors_total (\d+)/m.exec(text)?.[1]);
    expect(errors).toBeGreaterThanOrEqual(2 * BURST);
    const warning = a.logs.find((l) => String(l.msg).startsWith('rate limiter unavailable'));
    expect(warning?.level).toBe(40);
  }, 60_000);
});
