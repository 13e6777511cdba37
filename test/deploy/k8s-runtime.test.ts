/**
 * The manifests' containers, run for real: redis-server with the StatefulSet's own command
 * line (its $(VAR) references expanded as the kubelet does) and the probes' commands, then
 * agentd with the Deployment's environment (ConfigMap and dev Secret resolved), probed on
 * the paths the Deployment names and scraped for the metric the HPA scales on.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeWorkDir, spawnAgentd, stopStarted } from '../helpers/agentd-process.js';
import { find, kustomize, kustomizeWith, type K8sObject } from '../helpers/k8s-manifests.js';
import { ensureRedisServer, freePort } from '../helpers/redis-server.js';
import { messageJson } from '../helpers/wire.js';
import { hsToken, TestIssuer } from '../security/issuer.js';

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
function resolveEnv(
  env: EnvVar[],
  from: K8sObject[] = objects,
  secretValue: (name: string, key: string) => string = (name, key) =>
    Buffer.from(find(from, 'Secret', name).data?.[key] as string, 'base64').toString(),
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env) {
    const cm = e.valueFrom?.configMapKeyRef;
    const secret = e.valueFrom?.secretKeyRef;
    if (cm) out[e.name] = find(from, 'ConfigMap', cm.name).data?.[cm.key] as string;
    else if (secret) out[e.name] = secretValue(secret.name, secret.key);
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

describe('agentd as the production overlay runs it', () => {
  let issuer: TestIssuer | undefined;
  it('starts from the hardened configuration file with its key files and secrets, answers probes and scrapes, and admits only JWTs of the configured issuer and audience', async () => {
    const prod = kustomize('overlays/production');
    const pod = find(prod, 'Deployment', 'mcp-agent').spec.template.spec;
    const container = pod.containers[0] as {
      env: EnvVar[];
      args: string[];
      volumeMounts: Array<{ name: string; mountPath: string; subPath?: string }>;
    };
    // The Secret production creates out of band, with values made here.
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const secret: Record<string, string> = {
      'redis-password': redisEnv.REDIS_PASSWORD as string,
      'api-key': 'test-api-key',
      'jwt-secret': 'test-jwt-secret-0123456789abcdef0123456789',
      'metrics-token': 'test-metrics-token',
      'api-keys.yaml': `- sha256: ${createHash('sha256').update('file-key').digest('hex')}\n  principal: file-client\n  scopes: ['*']\n`,
      'card-signing-key.pem': privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
    // The pod's files, laid out in a temporary directory instead of /etc/agentd.
    const dir = mkdtempSync(join(tmpdir(), 'agentd-k8s-prod-'));
    try {
      const at = (mountPath: string): string => mountPath.replace(/^\/etc\/agentd/, dir);
      for (const mount of container.volumeMounts) {
        const volume = pod.volumes.find((v: { name: string }) => v.name === mount.name);
        if (volume.configMap && mount.subPath) {
          const text = find(prod, 'ConfigMap', volume.configMap.name).data?.[mount.subPath] as string;
          writeFileSync(at(mount.mountPath), text.replaceAll('/etc/agentd/', `${dir}/`));
        } else if (volume.secret) {
          mkdirSync(at(mount.mountPath), { recursive: true });
          for (const item of volume.secret.items as Array<{ key: string; path: string }>)
            writeFileSync(join(at(mount.mountPath), item.path), secret[item.key] as string);
        }
      }
      const env = resolveEnv(container.env, prod, (_name, key) => secret[key] as string);
      // The identity provider comes from the overlay's ConfigMap (placeholders to replace);
      // only the JWKS moves to an issuer on loopback, with the ConfigMap's issuer and audience.
      expect(env).toMatchObject({
        JWT_ISSUER: 'https://idp.example.com/',
        JWT_AUDIENCE: 'agentd',
        JWT_JWKS_URL: 'https://idp.example.com/.well-known/jwks.json',
      });
      issuer = await TestIssuer.start();
      const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
      const agentd = spawnAgentd(
        container.args.map((a) => at(a)),
        {
          ...env,
          JWT_JWKS_URL: issuer.jwksUrl,
          REDIS_HOST: '127.0.0.1',
          REDIS_PORT: String(redisPort),
          AGENTD_HOST: '127.0.0.1',
          HTTP_PORT: String(http),
          GRPC_PORT: String(grpc),
          METRICS_PORT: String(metrics),
          METRICS_HOST: '127.0.0.1',
        },
      );
      const listening = await agentd.waitForLog((l) => l.msg === 'agentd listening');
      expect(listening.store).toBe('redis');
      const base = `http://127.0.0.1:${http}`;
      await until200(`${base}/ready`);
      for (const path of ['/startup', '/health', '/ready'])
        expect((await fetch(`${base}${path}`)).status, path).toBe(200);
      const scrape = await fetch(`http://127.0.0.1:${metrics}/metrics`, {
        headers: { authorization: `Bearer ${secret['metrics-token']}` },
      });
      expect(scrape.status).toBe(200);
      expect(await scrape.text()).toMatch(/^active_workflows 0$/m);

      // JWTs: only the configured issuer and audience get in, HS256 (JWT_SECRET) included.
      const send = async (token?: string): Promise<number> => {
        const res = await fetch(`${base}/a2a/echo/rest/message:send`, {
          method: 'POST',
          headers: {
            'content-type': 'application/a2a+json',
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
          body: JSON.stringify({ message: messageJson('hello from the identity provider') }),
        });
        const text = await res.text();
        if (res.status === 200) expect(text).toContain('hello from the identity provider');
        return res.status;
      };
      const claims = { issuer: env.JWT_ISSUER as string, audience: env.JWT_AUDIENCE as string };
      const scope = 'agents:echo';
      expect(await send()).toBe(401);
      expect(await send(await issuer.token({ scope }, claims))).toBe(200);
      expect(await send(await issuer.token({ scope }, { ...claims, audience: 'another-service' }))).toBe(401);
      expect(
        await send(await issuer.token({ scope }, { ...claims, issuer: 'https://other-idp.example.com/' })),
      ).toBe(401);
      const jwtSecret = secret['jwt-secret'] as string;
      expect(await send(await hsToken(jwtSecret, { scope }))).toBe(401);
      expect(await send(await hsToken(jwtSecret, { scope, iss: claims.issuer, aud: claims.audience }))).toBe(
        200,
      );
    } finally {
      await issuer?.close();
      stopStarted();
      rmSync(dir, { recursive: true, force: true });
    }
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
