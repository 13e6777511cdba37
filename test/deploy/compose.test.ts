/**
 * docker-compose.yml: valid for Debian's docker-compose (`config`), and every port, env
 * name and path in it is one agentd, Prometheus and Grafana really use.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BUNDLED_DEMO_CONFIG, ENV_OVERRIDES, loadConfig } from '../../src/config/load-config.js';
import { ensureDebianTool } from '../helpers/debian-tool.js';
import { ROOT } from '../helpers/k8s-manifests.js';

interface Service {
  build?: { context: string };
  image?: string;
  environment?: Record<string, string>;
  ports?: Array<{ published: number; target: number }>;
  volumes?: string[];
  command?: string[];
  healthcheck?: { test: string[] };
}

ensureDebianTool('docker-compose', 'docker-compose');
const res = spawnSync('docker-compose', ['-f', join(ROOT, 'docker-compose.yml'), 'config'], {
  encoding: 'utf8',
  // Defaults only: the test must not depend on the caller's REDIS_PASSWORD and the like.
  env: { PATH: process.env.PATH },
});
const compose = parse(res.stdout ?? '') as { services: Record<string, Service> } | null;
const services = compose?.services ?? {};
const AGENTD_ENV = new Set([
  ...ENV_OVERRIDES.map((o) => o.env),
  ...[
    ...readFileSync(join(ROOT, 'src/config/load-config.ts'), 'utf8').matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g),
  ].map((m) => m[1] as string),
]);
const DEFAULTS = loadConfig({ configPath: BUNDLED_DEMO_CONFIG, env: {} }).config;
const agentd = Object.entries(services).filter(([, s]) => s.build !== undefined);

/** Host path → container path of a service's bind mounts (named volumes left out). */
function binds(service: Service | undefined): Array<{ host: string; container: string }> {
  return (service?.volumes ?? [])
    .map((v) => v.split(':'))
    .filter(([host]) => host?.startsWith('/'))
    .map(([host, container]) => ({ host: host as string, container: container as string }));
}

describe('docker-compose.yml', () => {
  it('is valid for docker-compose', () => {
    expect(res.status, res.stderr).toBe(0);
    expect(Object.keys(services).sort()).toEqual([
      'agentd',
      'agentd-worker',
      'grafana',
      'prometheus',
      'redis',
    ]);
  });

  it('builds agentd from the repository Dockerfile and sets only environment variables agentd reads', () => {
    expect(agentd.map(([name]) => name).sort()).toEqual(['agentd', 'agentd-worker']);
    for (const [name, s] of agentd) {
      expect(s.build?.context, name).toBe(ROOT);
      expect(existsSync(join(ROOT, 'Dockerfile'))).toBe(true);
      expect(
        Object.keys(s.environment ?? {}).filter((e) => !AGENTD_ENV.has(e)),
        name,
      ).toEqual([]);
      // Redis by service name, with the password Redis requires.
      expect(services[s.environment?.REDIS_HOST ?? '']).toBeDefined();
      expect(s.environment?.REDIS_PASSWORD).toBe(services.redis?.environment?.REDIS_PASSWORD);
      expect(s.environment?.MONITORING_ENABLED).toBe('true');
      expect(s.environment?.A2A_TRANSPORT).toBe('both');
      // Published ports lead to agentd's own listeners; cards advertise the published ones.
      const ports = s.ports ?? [];
      expect(ports.map((p) => p.target)).toEqual([DEFAULTS.server.httpPort, DEFAULTS.server.grpcPort]);
      expect(s.environment?.AGENTD_PUBLIC_URL).toBe(`http://localhost:${ports[0]?.published}`);
      expect(s.environment?.AGENTD_GRPC_PUBLIC_ADDRESS).toBe(`localhost:${ports[1]?.published}`);
      for (const v of ['HTTP_PORT', 'GRPC_PORT', 'METRICS_PORT'])
        expect(s.environment ?? {}).not.toHaveProperty(v);
    }
  });

  it('Redis requires a password and keeps an append-only file', () => {
    const command = (services.redis?.command ?? []).join(' ');
    // `$$` is compose's escape: the shell in the container expands $REDIS_PASSWORD.
    expect(command).toContain('--requirepass "$$REDIS_PASSWORD"');
    expect(command).toContain('--appendonly yes');
    expect(services.redis?.healthcheck?.test.join(' ')).toContain('grep -q PONG');
  });

  it('Prometheus loads deploy/monitoring/prometheus.yml and its rules, and scrapes both agentd services on 9090', () => {
    const mounts = binds(services.prometheus);
    const config = mounts.find((m) => m.container === '/etc/prometheus/prometheus.yml');
    expect(config && relative(ROOT, config.host)).toBe('deploy/monitoring/prometheus.yml');
    expect(statSync(config?.host as string).isFile()).toBe(true);
    const prom = parse(readFileSync(config?.host as string, 'utf8')) as {
      rule_files: string[];
      scrape_configs: Array<{ job_name: string; static_configs?: Array<{ targets: string[] }> }>;
    };
    // rule_files are relative to the config file: the alerts directory must be mounted beside it.
    expect(prom.rule_files).toEqual(['alerts/*.yml']);
    const alerts = mounts.find((m) => m.container === '/etc/prometheus/alerts');
    expect(alerts && relative(ROOT, alerts.host)).toBe('deploy/monitoring/alerts');
    expect(readdirSync(alerts?.host as string).filter((f) => f.endsWith('.yml')).length).toBeGreaterThan(0);
    const targets = prom.scrape_configs.flatMap((j) => j.static_configs?.flatMap((c) => c.targets) ?? []);
    for (const [name] of agentd) expect(targets).toContain(`${name}:${DEFAULTS.prometheus.port}`);
  });

  it('the metrics token: agentd requires the value Prometheus sends in every agentd scrape job', () => {
    const mounts = binds(services.prometheus);
    const prom = parse(readFileSync(join(ROOT, 'deploy/monitoring/prometheus.yml'), 'utf8')) as {
      scrape_configs: Array<{ job_name: string; authorization?: { credentials_file?: string } }>;
    };
    const files = new Set(prom.scrape_configs.flatMap((j) => j.authorization?.credentials_file ?? []));
    expect([...files]).toHaveLength(1);
    // The credentials file is mounted where the jobs read it, from a file in the repository.
    const [credentialsFile] = [...files];
    const mount = mounts.find((m) => m.container === credentialsFile);
    expect(mount && relative(ROOT, mount.host)).toBe('deploy/monitoring/secrets/metrics-token');
    // Prometheus trims the file; agentd compares the whole METRICS_TOKEN.
    const token = readFileSync(mount?.host as string, 'utf8').trim();
    expect(token).toMatch(/^dev-only-/);
    for (const [name, s] of agentd) {
      expect(s.environment?.METRICS_TOKEN, name).toBe(token);
      // The token guards /metrics in the configuration agentd builds from this environment.
      const { config } = loadConfig({ configPath: BUNDLED_DEMO_CONFIG, env: s.environment ?? {} });
      expect(config.prometheus.bearerToken, name).toEqual({ env: 'METRICS_TOKEN' });
    }
  });

  it('Grafana gets the provisioning (datasource → the prometheus service) and the dashboards where the provider looks', () => {
    const mounts = binds(services.grafana);
    const provisioning = mounts.find((m) => m.container === '/etc/grafana/provisioning');
    expect(provisioning && relative(ROOT, provisioning.host)).toBe('deploy/monitoring/grafana/provisioning');
    for (const dir of ['datasources', 'dashboards'])
      expect(readdirSync(join(provisioning?.host as string, dir)).length, dir).toBeGreaterThan(0);
    const dashboards = mounts.find((m) => relative(ROOT, m.host) === 'deploy/monitoring/grafana/dashboards');
    expect(readdirSync(dashboards?.host as string).filter((f) => f.endsWith('.json')).length).toBeGreaterThan(
      0,
    );
    const providerDir = join(provisioning?.host as string, 'dashboards');
    const providerPaths = readdirSync(providerDir).flatMap((f) =>
      (
        parse(readFileSync(join(providerDir, f), 'utf8')) as {
          providers: Array<{ options: { path: string } }>;
        }
      ).providers.map((p) => p.options.path),
    );
    expect(providerPaths).toContain(dashboards?.container);
    const dsDir = join(provisioning?.host as string, 'datasources');
    const urls = readdirSync(dsDir).flatMap((f) =>
      (
        parse(readFileSync(join(dsDir, f), 'utf8')) as { datasources: Array<{ url: string }> }
      ).datasources.map((d) => new URL(d.url)),
    );
    expect(urls.map((u) => `${u.hostname}:${u.port}`)).toContain('prometheus:9090');
    expect(services.prometheus?.ports?.[0]?.target).toBe(9090);
  });
});
