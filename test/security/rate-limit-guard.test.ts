import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { rateLimitSchema } from '../../src/config/security-schema.js';
import { AgentdError, isAgentdError } from '../../src/errors.js';
import { AgentdMetrics } from '../../src/observability/metrics.js';
import { addressKey, clientAddress, grpcPeerHost } from '../../src/security/client-ip.js';
import type { Principal } from '../../src/security/principal.js';
import { RateLimitGuard, retryAfterOf, type RateLimitSubject } from '../../src/security/rate-limit.js';
import { MemoryRateLimiter } from '../../src/store/memory/memory-rate-limiter.js';
import type { RateLimiter } from '../../src/store/ports.js';

const principal = (id: string): Principal => ({ id, scheme: 'apiKey', scopes: new Set(['*']), admin: false });

function capture(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

/** A guard on in-process buckets with a clock the test moves. */
function guardFor(config: Record<string, unknown>, metrics?: AgentdMetrics) {
  const clock = { now: 1_000_000 };
  const limiter = new MemoryRateLimiter(1000, () => clock.now);
  const guard = new RateLimitGuard(rateLimitSchema.parse(config), limiter, capture().logger, metrics);
  return { guard, clock };
}

/** How many of `n` checks pass (the rest must be RATE_LIMITED). */
async function admittedOf(guard: RateLimitGuard, subject: RateLimitSubject, n: number): Promise<number> {
  let admitted = 0;
  for (let i = 0; i < n; i++) {
    try {
      await guard.check(subject);
      admitted++;
    } catch (error) {
      if (!isAgentdError(error, 'RATE_LIMITED')) throw error;
    }
  }
  return admitted;
}

async function refusal(guard: RateLimitGuard, subject: RateLimitSubject): Promise<AgentdError> {
  try {
    await guard.check(subject);
  } catch (error) {
    if (error instanceof AgentdError) return error;
    throw error;
  }
  throw new Error('expected RATE_LIMITED');
}

describe('rate-limit guard', () => {
  it('limits per client IP: each address has its own bucket', async () => {
    const { guard, clock } = guardFor({ perIp: { ratePerSecond: 2, burst: 3 } });
    const a = { ip: '10.0.0.1', principal: undefined, agent: undefined };
    expect(await admittedOf(guard, a, 10)).toBe(3);
    expect(await admittedOf(guard, { ...a, ip: '10.0.0.2' }, 10)).toBe(3);
    const e = await refusal(guard, a);
    expect(e.code).toBe('RATE_LIMITED');
    expect(e.data).toMatchObject({ limit: 'ip', retryAfterSeconds: '1' });
    expect(retryAfterOf(e)).toBe(1);
    clock.now += 1000; // two tokens back
    expect(await admittedOf(guard, a, 10)).toBe(2);
  });

  it('limits per principal across addresses, and anonymous callers per address only', async () => {
    const { guard } = guardFor({ perPrincipal: { ratePerSecond: 1, burst: 2 } });
    const alice = principal('alice');
    expect(await admittedOf(guard, { ip: '10.0.0.1', principal: alice, agent: undefined }, 5)).toBe(2);
    // Same principal from another address: the same bucket, already empty.
    expect(await admittedOf(guard, { ip: '10.0.0.9', principal: alice, agent: undefined }, 5)).toBe(0);
    expect(
      await admittedOf(guard, { ip: '10.0.0.1', principal: principal('bob'), agent: undefined }, 5),
    ).toBe(2);
    // No principal (open mode or anonymous): no per-principal limit applies.
    expect(await admittedOf(guard, { ip: '10.0.0.1', principal: undefined, agent: undefined }, 50)).toBe(50);
    const e = await refusal(guard, { ip: '10.0.0.3', principal: alice, agent: undefined });
    expect(e.data?.limit).toBe('principal');
    expect(e.message).not.toContain('alice');
  });

  it('checks the address, then the principal; each can be checked alone (before and after authentication)', async () => {
    const { guard } = guardFor({
      perIp: { ratePerSecond: 1, burst: 5 },
      perPrincipal: { ratePerSecond: 1, burst: 2 },
    });
    const alice = { ip: '10.0.0.1', principal: principal('alice'), agent: undefined };
    expect(await admittedOf(guard, alice, 2)).toBe(2);
    expect((await refusal(guard, alice)).data?.limit).toBe('principal');
    // The address gave a token to each of alice's three requests: 2 are left.
    const bob = { ...alice, principal: principal('bob') };
    expect(await admittedOf(guard, bob, 2)).toBe(2);
    expect((await refusal(guard, bob)).data?.limit).toBe('ip');
    // Only the principal's buckets: a fresh principal passes, whatever its address has left.
    const carol = { ...alice, principal: principal('carol') };
    expect(await admittedOf(guard, carol, 2)).toBe(0);
    await guard.check({ ...alice, principal: principal('dave') }, ['principal']);
    // Only the address's buckets: the principal is not looked at (not known yet).
    expect((await refusal(guard, { ...alice, principal: undefined })).data?.limit).toBe('ip');
  });

  it('adds an agent its own tighter limits, only for that agent', async () => {
    const metrics = new AgentdMetrics({
      service: 'agentd',
      version: 't',
      environment: 't',
      activeWorkflows: () => 0,
    });
    try {
      const { guard } = guardFor(
        {
          perIp: { ratePerSecond: 1, burst: 10 },
          agents: { countdown: { perIp: { ratePerSecond: 1, burst: 2 } } },
        },
        metrics,
      );
      const ip = '10.0.0.1';
      expect(await admittedOf(guard, { ip, principal: undefined, agent: 'countdown' }, 5)).toBe(2);
      const e = await refusal(guard, { ip, principal: undefined, agent: 'countdown' });
      expect(e.data).toMatchObject({ limit: 'ip', agent: 'countdown' });
      // Other agents only see the server-wide bucket, which countdown's 2 admitted calls used.
      expect(await admittedOf(guard, { ip, principal: undefined, agent: 'echo' }, 20)).toBe(8);
      // An unknown or hostile agent name gets no bucket of its own.
      expect(await admittedOf(guard, { ip: '10.0.0.2', principal: undefined, agent: '__proto__' }, 20)).toBe(
        10,
      );
      const text = await metrics.exposition();
      expect(text).toContain('agentd_rate_limited_total{limit="ip",agent="countdown"} 4');
      expect(text).toContain('agentd_rate_limited_total{limit="ip",agent=""} 22');
      expect(text).not.toContain('__proto__');
    } finally {
      metrics.close();
    }
  });

  it('admits requests when its store fails, counting and logging it (fail open)', async () => {
    const metrics = new AgentdMetrics({
      service: 'agentd',
      version: 't',
      environment: 't',
      activeWorkflows: () => 0,
    });
    const { logger, lines } = capture();
    let now = 0;
    const broken: RateLimiter = { take: () => Promise.reject(new Error('Redis connection is reconnecting')) };
    const guard = new RateLimitGuard(
      rateLimitSchema.parse({ perIp: { ratePerSecond: 1, burst: 1 } }),
      broken,
      logger,
      metrics,
      () => now,
    );
    try {
      expect(await admittedOf(guard, { ip: '10.0.0.1', principal: undefined, agent: undefined }, 5)).toBe(5);
      expect(await metrics.exposition()).toContain('agentd_rate_limit_store_errors_total 5');
      const warnings = lines.filter((l) => l.level === 40);
      expect(warnings).toHaveLength(1); // once per 10 s, not per request
      expect(String(warnings[0]?.msg)).toContain('rate limiter unavailable');
      now += 10_000;
      await guard.check({ ip: '10.0.0.1', principal: undefined, agent: undefined });
      expect(lines.filter((l) => l.level === 40)).toHaveLength(2);
      expect(lines.at(-1)?.admitted_unchecked).toBe(5);
    } finally {
      metrics.close();
    }
  });

  it('tells transports which kinds of bucket are configured', () => {
    const logger = capture().logger;
    const perAgentPrincipal = rateLimitSchema.parse({
      agents: { llm: { perPrincipal: { ratePerSecond: 1, burst: 1 } } },
    });
    const guard = new RateLimitGuard(perAgentPrincipal, new MemoryRateLimiter(10), logger, undefined);
    expect(guard.limits('principal')).toBe(true);
    expect(guard.limits('ip')).toBe(false);
  });

  it('is off when no limit is configured', () => {
    expect(RateLimitGuard.configured(rateLimitSchema.parse({}))).toBe(false);
    expect(RateLimitGuard.configured(rateLimitSchema.parse({ agents: { echo: {} } }))).toBe(false);
    expect(
      RateLimitGuard.configured(
        rateLimitSchema.parse({ agents: { echo: { perIp: { ratePerSecond: 1, burst: 1 } } } }),
      ),
    ).toBe(true);
  });
});

describe('client address', () => {
  it('counts IPv4-mapped addresses as IPv4 and IPv6 clients by their /64', () => {
    expect(addressKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });

  it('uses X-Forwarded-For only with trusted proxies, and only when the entry is an address', () => {
    expect(clientAddress('10.0.0.1', '203.0.113.5, 10.0.0.1', 0)).toBe('10.0.0.1');
    expect(clientAddress('10.0.0.1', '203.0.113.5', 1)).toBe('203.0.113.5');
    expect(clientAddress('10.0.0.1', 'not-an-ip', 1)).toBe('10.0.0.1');
    expect(clientAddress('10.0.0.1', '203.0.113.5, ', 1)).toBe('10.0.0.1');
    expect(clientAddress('10.0.0.1', undefined, 1)).toBe('10.0.0.1');
    expect(clientAddress(undefined, undefined, 0)).toBe('unknown');
  });

  it('takes the n-th address from the right: what the client prepends never changes its bucket', () => {
    // One proxy appended the client's address 198.51.100.7; everything left of it is the client's own.
    for (const spoofed of ['', '1.2.3.4, ', '1.2.3.4, 5.6.7.8, ', 'not-an-ip, ', '::1, 10.0.0.9, '])
      expect(clientAddress('10.0.0.1', `${spoofed}198.51.100.7`, 1), spoofed).toBe('198.51.100.7');
    // Two proxies: the outer one appended the client, the inner one the outer proxy (10.1.1.1).
    for (const spoofed of ['', '1.2.3.4, ', '1.2.3.4,5.6.7.8,'])
      expect(clientAddress('10.0.0.2', `${spoofed}198.51.100.7, 10.1.1.1`, 2), spoofed).toBe('198.51.100.7');
    // Several header lines count in order, as one list (gRPC metadata or repeated HTTP headers).
    expect(clientAddress('10.0.0.1', ['1.2.3.4', '198.51.100.7'], 1)).toBe('198.51.100.7');
    expect(clientAddress('10.0.0.2', ['6.6.6.6, 198.51.100.7', '10.1.1.1'], 2)).toBe('198.51.100.7');
    // Fewer entries than trusted proxies: the request did not pass them all, so the socket counts.
    expect(clientAddress('10.0.0.2', '198.51.100.7', 2)).toBe('10.0.0.2');
    // Entries with ports and IPv6 ones (counted by their /64).
    expect(clientAddress('10.0.0.1', '1.2.3.4, 198.51.100.7:4711', 1)).toBe('198.51.100.7');
    expect(clientAddress('10.0.0.1', '1.2.3.4, [2001:db8:1:2::5]:443', 1)).toBe('2001:db8:1:2::/64');
    expect(clientAddress('10.0.0.1', '1.2.3.4, 2001:db8:1:2::5', 1)).toBe('2001:db8:1:2::/64');
  });

  it('trustProxy: true is one trusted proxy; trustedProxies wins alone and the two do not mix', () => {
    const guard = (config: unknown) =>
      new RateLimitGuard(
        rateLimitSchema.parse(config),
        new MemoryRateLimiter(10),
        capture().logger,
        undefined,
      );
    expect(guard({}).trustedProxies).toBe(0);
    expect(guard({ trustProxy: false }).trustedProxies).toBe(0);
    expect(guard({ trustProxy: true }).trustedProxies).toBe(1);
    expect(guard({ trustedProxies: 2 }).trustedProxies).toBe(2);
    const mixed = rateLimitSchema.safeParse({ trustProxy: true, trustedProxies: 2 });
    expect(mixed.success).toBe(false);
    expect(mixed.error?.issues[0]).toMatchObject({ path: ['trustProxy'] });
    expect(mixed.error?.issues[0]?.message).toContain('trustedProxies');
    expect(rateLimitSchema.safeParse({ trustedProxies: -1 }).success).toBe(false);
    expect(rateLimitSchema.safeParse({ trustedProxies: 1.5 }).success).toBe(false);
  });

  it('reads the host of grpc-js peer strings', () => {
    expect(grpcPeerHost('ipv4:127.0.0.1:5555')).toBe('127.0.0.1');
    expect(grpcPeerHost('127.0.0.1:5555')).toBe('127.0.0.1');
    expect(grpcPeerHost('ipv6:[::1]:5555')).toBe('::1');
    expect(grpcPeerHost('[2001:db8::1]:80')).toBe('2001:db8::1');
  });
});

describe('rate-limit settings from the environment', () => {
  const load = (env: NodeJS.ProcessEnv) => {
    const dir = mkdtempSync(join(tmpdir(), 'agentd-rl-'));
    try {
      const file = join(dir, 'agentd.yaml');
      writeFileSync(file, 'agents:\n  - name: echo\n    kind: echo\n');
      return loadConfig({ configPath: file, env, cwd: dir }).config;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('reads "rate/burst"', () => {
    const config = load({ AGENTD_RATE_LIMIT_PER_IP: '50/100', AGENTD_RATE_LIMIT_PER_PRINCIPAL: '0.5/3' });
    expect(config.rateLimits.perIp).toEqual({ ratePerSecond: 50, burst: 100 });
    expect(config.rateLimits.perPrincipal).toEqual({ ratePerSecond: 0.5, burst: 3 });
    expect(config.rateLimits.maxBuckets).toBe(100_000);
  });

  it('names the variable when the value is malformed or out of range', () => {
    expect(() => load({ AGENTD_RATE_LIMIT_PER_IP: '50' })).toThrow(
      /rateLimits\.perIp \(from env AGENTD_RATE_LIMIT_PER_IP\)/,
    );
    try {
      load({ AGENTD_RATE_LIMIT_PER_PRINCIPAL: '0/10' });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems.join('\n')).toContain('rateLimits.perPrincipal.ratePerSecond');
    }
  });
});
