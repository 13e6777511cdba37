import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStateStore } from '../../src/store/redis/redis-state-store.js';
import type { RedisTarget } from '../../src/store/redis/redis-target.js';
import { redisCall, startRedisCluster, type RedisClusterProcess } from '../helpers/redis-cluster.js';
import { SENTINEL_MASTER, startRedisSentinel, type RedisSentinelGroup } from '../helpers/redis-sentinel.js';
import { storeConformance } from './conformance.js';
import { ownerConformance } from './owner-conformance.js';

/**
 * The store's contract on a Redis Cluster (three masters, three replicas: a task's keys,
 * the queue's and the indexes land on different nodes) and behind Redis Sentinel.
 */
let cluster: RedisClusterProcess;
let sentinel: RedisSentinelGroup;
// The first run on a fresh machine may install redis-server and redis-sentinel from Debian.
beforeAll(async () => {
  cluster = await startRedisCluster();
  sentinel = await startRedisSentinel();
}, 300_000);
afterAll(async () => {
  await Promise.all([cluster?.stop(), sentinel?.stop()]);
});

const hostPorts = (addresses: readonly string[]): Array<{ host: string; port: number }> =>
  addresses.map((a) => ({ host: '127.0.0.1', port: Number(a.split(':')[1]) }));

const store =
  (target: () => RedisTarget, waitReplicas = 0) =>
  async (): Promise<RedisStateStore> =>
    new RedisStateStore({
      url: target(),
      keyPrefix: `agentd-test-${randomUUID().slice(0, 8)}:`,
      retention: { ttlMs: 3_600_000, maxTerminalTasks: 10_000 },
      sweepIntervalMs: 3_600_000,
      waitReplicas,
    });

const clusterTarget = (): RedisTarget => ({
  mode: 'cluster',
  nodes: hostPorts(cluster.addresses),
  tls: false,
});
const sentinelTarget = (): RedisTarget => ({
  mode: 'sentinel',
  sentinels: hostPorts(sentinel.addresses),
  name: SENTINEL_MASTER,
  db: 0,
  tls: false,
});

storeConformance('redis cluster', store(clusterTarget));
ownerConformance('redis cluster', store(clusterTarget));
storeConformance('redis sentinel (WAIT for 1 replica)', store(sentinelTarget, 1));

describe('RedisStateStore on a Redis Cluster', () => {
  it('spreads tasks over the masters and lists them all from any node', async () => {
    const s = await store(clusterTarget)();
    try {
      await s.ping();
      const ids = Array.from({ length: 12 }, (_, i) => `spread-${i}-${randomUUID()}`);
      for (const id of ids) {
        await s.tasks.create({
          task: { id, contextId: 'c', status: undefined, artifacts: [], history: [], metadata: undefined },
          agent: 'a',
          tenant: '',
          lastSeq: 0,
          updatedAt: Date.now(),
        });
      }
      const page = await s.tasks.list({ agent: 'a', tenant: '', pageSize: 100, pageToken: '' });
      expect(page.tasks.map((t) => t.task.id).sort()).toEqual([...ids].sort());
      // The tasks really are on more than one master (else this proved nothing about slots).
      const sizes = await Promise.all(cluster.nodes.map((n) => redisCall(n.port, 'DBSIZE')));
      expect(sizes.filter((n) => Number(n) > 0).length).toBeGreaterThan(1);
    } finally {
      await s.close();
    }
  });

  it('rate-limit buckets hold across two replicas sharing the Cluster', async () => {
    // Two stores with one key prefix: two replicas of one deployment.
    const keyPrefix = `agentd-test-rl-${randomUUID().slice(0, 8)}:`;
    const replica = (): RedisStateStore =>
      new RedisStateStore({
        url: clusterTarget(),
        keyPrefix,
        retention: { ttlMs: 3_600_000, maxTerminalTasks: 10_000 },
        sweepIntervalMs: 3_600_000,
      });
    const [one, two] = [replica(), replica()];
    try {
      await Promise.all([one.ping(), two.ping()]);
      const limit = { ratePerSecond: 0.01, burst: 2 };
      const key = `client-${randomUUID()}`;
      const decisions = [
        await one.rateLimiter().take(key, limit),
        await two.rateLimiter().take(key, limit),
        await one.rateLimiter().take(key, limit),
      ];
      expect(decisions.map((d) => d.allowed)).toEqual([true, true, false]);
      expect(decisions[2]?.retryAfterMs).toBeGreaterThan(0);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });
});
