import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { redisAddress, redisTarget } from '../../src/store/create-store.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'agentd-config-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const AGENTS = 'agents:\n  - { name: e, kind: echo }\n';

function load(yaml: string, env: NodeJS.ProcessEnv = {}): ReturnType<typeof loadConfig> {
  const file = join(dir, 'agentd.yaml');
  writeFileSync(file, yaml);
  return loadConfig({ configPath: file, env, cwd: dir });
}

function problemsOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.join('\n');
  }
  throw new Error('expected a ConfigError');
}

describe('Redis Cluster configuration', () => {
  it('REDIS_CLUSTER_NODES alone selects the Redis store on those nodes, with password and tls', () => {
    const { store } = load(AGENTS, {
      REDIS_CLUSTER_NODES: 'redis-0.redis:6379, redis-1.redis:6379,[::1]:7000',
      REDIS_PASSWORD: 's3cret',
    }).config;
    expect(store.kind).toBe('redis');
    expect(redisTarget(store.redis)).toEqual({
      mode: 'cluster',
      nodes: [
        { host: 'redis-0.redis', port: 6379 },
        { host: 'redis-1.redis', port: 6379 },
        { host: '::1', port: 7000 },
      ],
      password: 's3cret',
      tls: false,
    });
    // The banner and logs name the nodes, never the password.
    expect(redisAddress(store.redis)).toBe('cluster redis-0.redis:6379,redis-1.redis:6379,[::1]:7000');
  });

  it('is configured in YAML as store.redis.cluster.nodes', () => {
    const { store } = load(
      `${AGENTS}store:\n  kind: redis\n  redis:\n    tls: true\n    cluster:\n      nodes: [a:1, b:2]\n`,
    ).config;
    expect(redisTarget(store.redis)).toMatchObject({
      mode: 'cluster',
      tls: true,
      nodes: [
        { host: 'a', port: 1 },
        { host: 'b', port: 2 },
      ],
    });
  });

  it('refuses an empty node list, a node that is not host:port, and a db other than 0', () => {
    expect(problemsOf(() => load(AGENTS, { REDIS_CLUSTER_NODES: ' , ' }))).toMatch(
      /store\.redis\.cluster\.nodes \(from env REDIS_CLUSTER_NODES\): list at least one node/,
    );
    expect(problemsOf(() => load(AGENTS, { REDIS_CLUSTER_NODES: 'redis-0:6379,redis-1' }))).toMatch(
      /store\.redis\.cluster\.nodes\.1: "redis-1" is not host:port/,
    );
    expect(problemsOf(() => load(AGENTS, { REDIS_CLUSTER_NODES: 'a:99999' }))).toMatch(
      /"a:99999" is not host:port/,
    );
    expect(
      problemsOf(() =>
        load(`${AGENTS}store:\n  kind: redis\n  redis:\n    db: 2\n    cluster: { nodes: [a:1] }\n`),
      ),
    ).toMatch(/store\.redis\.db: a Redis Cluster has only database 0/);
  });
});

describe('Redis Sentinel configuration', () => {
  it('REDIS_SENTINELS and REDIS_SENTINEL_MASTER select the Redis store through those Sentinels', () => {
    const { store } = load(AGENTS, {
      REDIS_SENTINELS: 'sentinel-0:26379,sentinel-1:26379',
      REDIS_SENTINEL_MASTER: 'mymaster',
      REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
      REDIS_PASSWORD: 'master-secret',
      AGENTD_REDIS_WAIT_REPLICAS: '1',
    }).config;
    expect(store.kind).toBe('redis');
    expect(store.redis.waitReplicas).toBe(1);
    expect(redisTarget(store.redis)).toEqual({
      mode: 'sentinel',
      sentinels: [
        { host: 'sentinel-0', port: 26379 },
        { host: 'sentinel-1', port: 26379 },
      ],
      name: 'mymaster',
      password: 'master-secret',
      sentinelPassword: 'sentinel-secret',
      db: 0,
      tls: false,
    });
    expect(redisAddress(store.redis)).toBe('sentinel mymaster@sentinel-0:26379,sentinel-1:26379');
  });

  it('needs the master name, and cannot be combined with a Cluster or a URL', () => {
    expect(problemsOf(() => load(AGENTS, { REDIS_SENTINELS: 's:26379' }))).toMatch(
      /store\.redis\.sentinel\.name/,
    );
    expect(
      problemsOf(() =>
        load(AGENTS, { REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_MASTER: 'm', REDIS_CLUSTER_NODES: 'a:1' }),
      ),
    ).toMatch(/store\.redis\.sentinel: set cluster or sentinel, not both/);
    expect(
      problemsOf(() =>
        load(AGENTS, { REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_MASTER: 'm', REDIS_URL: 'redis://x:1' }),
      ),
    ).toMatch(/store\.redis\.url \(from env REDIS_URL\): names one server: leave it out with sentinel/);
  });
});
