/**
 * The manifests' containers, run for real: redis-server with the StatefulSet's own command
 * line (its $(VAR) references expanded as the kubelet does) and the probes' commands, then
 * agentd with the Deployment's environment (ConfigMap and dev Secret resolved), probed on
 * the paths the Deployment names and scraped for the metric the HPA scales on.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeWorkDir, spawnAgentd, stopStarted } from '../helpers/agentd-process.js';
import { find, kustomize, kustomizeWith } from '../helpers/k8s-manifests.js';
import { ensureRedisServer, freePort } from '../helpers/redis-server.js';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    configMapKeyRef?: { name: string; key: string };
    secretKeyRef?: { name: string; key: string };
  };
}

const objects = kustomize('overlays/dev');

/** An env list resolved as the kubelet does: literal values, ConfigMap and Secret keys. */
function resolveEnv(env: EnvVar[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env) {
    const cm = e.valueFrom?.configMapKeyRef;
    const secret = e.valueFrom?.secretKeyRef;
    if (cm) out[e.name] = find(objects, 'ConfigMap', cm.name).data?.[cm.key] as string;
    else if (secret)
      out[e.name] = Buffer.from(
        find(objects, 'Secret', secret.name).data?.[secret.key] as string,
        'base64',
      ).toString();
    else out[e.name] = e.value as string;
  }
  return out;
}

/** `$(NAME)` in a command line, expanded from the container's environment. */
function expand(args: string[], env: Record<string, string>): string[] {
  return args.map((a) => a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string) => env[name] ?? m));
}

const redisSpec = find(objects, 'StatefulSet', 'redis').spec.template.spec.containers[0] as {
  command: string[];
  env: EnvVar[];
  livenessProbe: { exec: { command: string[] } };
  readinessProbe: { exec: { command: string[] } };
};
const redisEnv = resolveEnv(redisSpec.env);
let redis: ChildProcess | undefined;
let redisPort = 0;
let redisDir = '';

beforeAll(async () => {
  ensureRedisServer();
  redisPort = await freePort();
  redisDir = mkdtempSync(join(tmpdir(), 'agentd-k8s-redis-'));
  // The manifest's command; only where it listens and writes changes (loopback, a temp dir).
  const [command, ...args] = expand(redisSpec.command, redisEnv);
  const local = args.map((a, i) => (args[i - 1] === '--dir' ? redisDir : a));
  redis = spawn(command as string, [...local, '--port', String(redisPort), '--bind', '127.0.0.1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) resolve();
    };
    redis?.stdout?.on('data', onData);
    redis?.stderr?.on('data', onData);
    redis?.once('exit', (code) => reject(new Error(`redis-server exited with ${code}:\n${output}`)));
  });
  redis.stdout?.resume();
  redis.stderr?.resume();
});

afterAll(() => {
  stopStarted();
  removeWorkDir();
  if (redis?.pid !== undefined && redis.exitCode === null) process.kill(redis.pid, 'SIGKILL');
  if (redisDir) rmSync(redisDir, { recursive: true, force: true });
});

/** Runs a probe's exec command against the test Redis (redis-cli pointed at its port). */
function probe(command: string[], env: Record<string, string>): number | null {
  const [sh, flag, script] = command;
  expect([sh, flag]).toEqual(['sh', '-c']);
  const res = spawnSync(
    'sh',
    ['-c', (script as string).replaceAll('redis-cli', `redis-cli -p ${redisPort}`)],
    {
      env: { PATH: process.env.PATH, ...env },
      encoding: 'utf8',
    },
  );
  return res.status;
}

describe('Redis as the StatefulSet runs it', () => {
  it('requires the password and keeps an append-only file', () => {
    const cli = (auth: string | undefined, ...args: string[]): string =>
      spawnSync('redis-cli', ['-p', String(redisPort), ...args], {
        env: { PATH: process.env.PATH, ...(auth ? { REDISCLI_AUTH: auth } : {}) },
        encoding: 'utf8',
      }).stdout.trim();
    expect(cli(undefined, 'ping')).toMatch(/NOAUTH/);
    expect(cli(redisEnv.REDIS_PASSWORD, 'ping')).toBe('PONG');
    expect(cli(redisEnv.REDIS_PASSWORD, 'config', 'get', 'appendonly')).toBe('appendonly\nyes');
    expect(cli(redisEnv.REDIS_PASSWORD, 'config', 'get', 'maxmemory-policy')).toBe(
      'maxmemory-policy\nnoeviction',
    );
  });

  it('its probes pass with the password and fail without it', () => {
    for (const p of [redisSpec.livenessProbe, redisSpec.readinessProbe]) {
      expect(probe(p.exec.command, redisEnv)).toBe(0);
      expect(probe(p.exec.command, { ...redisEnv, REDISCLI_AUTH: 'wrong' })).not.toBe(0);
    }
  });
});

describe('agentd with the Deployment’s environment', () => {
  it('becomes ready on Redis, answers the probe paths and exports active_workflows on the metrics port', async () => {
    const deployment = find(objects, 'Deployment', 'mcp-agent').spec.template.spec;
    const container = deployment.containers[0] as {
      env: EnvVar[];
      args: string[];
      livenessProbe: { httpGet: { path: string } };
      readinessProbe: { httpGet: { path: string } };
      startupProbe: { httpGet: { path: string } };
    };
    const env = resolveEnv(container.env);
    expect(env.REDIS_HOST).toBe('redis-service.agent-system.svc.cluster.local');
    const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
    const agentd = spawnAgentd(container.args, {
      ...env,
      // Loopback and free ports instead of the pod's network: everything else as deployed.
      REDIS_HOST: '127.0.0.1',
      REDIS_PORT: String(redisPort),
      AGENTD_HOST: '127.0.0.1',
      HTTP_PORT: String(http),
      GRPC_PORT: String(grpc),
      METRICS_PORT: String(metrics),
      METRICS_HOST: '127.0.0.1',
    });
    await agentd.url; // the banner prints the public URL (the dev overlay's), not the listener
    const base = `http://127.0.0.1:${http}`;
    const paths = [container.startupProbe, container.livenessProbe, container.readinessProbe].map(
      (p) => p.httpGet.path,
    );
    expect(paths).toEqual(['/startup', '/health', '/ready']);
    const listening = await agentd.waitForLog((l) => l.msg === 'agentd listening');
    expect(listening.store).toBe('redis'); // REDIS_HOST selected the Redis store
    // Ready means the store answered, so the password from the Secret worked. Readiness is
    // the process's own state, with no event to await: polled, as a kubelet does.
    await until200(`${base}/ready`);
    for (const path of paths) {
      const res = await fetch(`${base}${path}`);
      const body = (await res.json()) as { status: string; checks: Record<string, { status: string }> };
      expect(res.status, `${path}: ${JSON.stringify(body)}`).toBe(200);
    }
    const ready = (await (await fetch(`${base}/ready`)).json()) as {
      checks: Record<string, { status: string }>;
    };
    expect(Object.keys(ready.checks)).toContain('store_redis');
    const text = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
    expect(text).toMatch(/^# TYPE active_workflows gauge$/m);
    expect(text).toMatch(/^active_workflows 0$/m);
    // Every metric the autoscalers name (HPA, KEDA's Prometheus queries) is one agentd exports.
    const keda = kustomizeWith('overlays/dev', ['components/keda']);
    const queries = (
      find(keda, 'ScaledObject').spec.triggers as Array<{ type: string; metadata: { query?: string } }>
    ).flatMap((t) => (t.type === 'prometheus' ? [t.metadata.query as string] : []));
    const named = [
      ...queries.flatMap((q) => [...q.matchAll(/([a-z_:][a-z0-9_:]*)\{/g)].map((m) => m[1] as string)),
      ...(
        find(kustomize('overlays/production'), 'HorizontalPodAutoscaler').spec.metrics as Array<{
          pods?: { metric: { name: string } };
        }>
      ).flatMap((m) => (m.pods ? [m.pods.metric.name] : [])),
    ];
    expect(named.length).toBeGreaterThan(0);
    for (const metric of new Set(named)) expect(text, metric).toMatch(new RegExp(`^${metric}(\\{|\\s)`, 'm'));
  }, 30_000);
});

async function until200(url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  let last = '';
  while (Date.now() < deadline) {
    const res = await fetch(url);
    if (res.status === 200) return;
    last = await res.text();
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not answer 200 within 10 s: ${last}`);
}
