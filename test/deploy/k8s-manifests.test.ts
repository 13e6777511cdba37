/**
 * The Kubernetes manifests (deploy/k8s): every overlay builds with the real kustomize,
 * every object validates against its schema, and what they say about agentd is what
 * agentd does (env names it reads, its ports and probe paths, drain timing, the metric
 * the autoscalers use, the Redis keys KEDA reads).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENV_OVERRIDES, BUNDLED_DEMO_CONFIG, loadConfig } from '../../src/config/load-config.js';
import { RedisKeys } from '../../src/store/redis/redis-keys.js';
import {
  find,
  K8S,
  kustomize,
  kustomizeWith,
  parseManifests,
  ROOT,
  validateObject,
  type K8sObject,
} from '../helpers/k8s-manifests.js';

const OVERLAYS = ['dev', 'production', 'multi-region/us-east', 'multi-region/eu-west'];
const built = new Map(OVERLAYS.map((o) => [o, kustomize(`overlays/${o}`)]));
const get = (overlay: string): K8sObject[] => built.get(overlay) as K8sObject[];

/** Every environment variable agentd reads: the override table and the secrets read by name. */
const AGENTD_ENV = new Set([
  ...ENV_OVERRIDES.map((o) => o.env),
  ...[
    ...readFileSync(join(ROOT, 'src/config/load-config.ts'), 'utf8').matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g),
  ].map((m) => m[1] as string),
]);

/** agentd's defaults (the ports it listens on when the manifests do not set them). */
const DEFAULTS = loadConfig({ configPath: BUNDLED_DEMO_CONFIG, env: {} }).config;

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    configMapKeyRef?: { name: string; key: string };
    secretKeyRef?: { name: string; key: string };
  };
}
interface Container {
  name: string;
  env?: EnvVar[];
  ports?: Array<{ name: string; containerPort: number }>;
  [key: string]: unknown;
}

function agentContainer(objects: K8sObject[]): Container {
  return find(objects, 'Deployment', 'mcp-agent').spec.template.spec.containers[0] as Container;
}

/** The container's environment with ConfigMap references resolved (Secrets left as references). */
function resolvedEnv(objects: K8sObject[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of agentContainer(objects).env ?? []) {
    const ref = e.valueFrom?.configMapKeyRef;
    if (ref) out[e.name] = find(objects, 'ConfigMap', ref.name).data?.[ref.key] as string;
    else if (e.value !== undefined) out[e.name] = e.value;
  }
  return out;
}

describe('kustomize overlays', () => {
  it.each(OVERLAYS)('%s builds, and every object validates against its schema', (overlay) => {
    const objects = get(overlay);
    expect(objects.length).toBeGreaterThan(10);
    for (const obj of objects) validateObject(obj);
    // Everything of ours lands in agent-system; only the adapter's rules go to monitoring.
    for (const obj of objects.filter((o) => o.kind !== 'Namespace'))
      expect(obj.metadata.namespace, `${obj.kind} ${obj.metadata.name}`).toBe(
        obj.metadata.name === 'adapter-config' ? 'monitoring' : 'agent-system',
      );
  });

  it('the schema check has teeth: a wrong type or enum is rejected', () => {
    const deployment = structuredClone(find(get('dev'), 'Deployment', 'mcp-agent'));
    deployment.spec.replicas = 'three';
    expect(() => validateObject(deployment)).toThrow(/invalid/);
    const rule = structuredClone(find(get('production'), 'DestinationRule'));
    rule.spec.trafficPolicy.loadBalancer.simple = 'LEAST_BOGUS';
    expect(() => validateObject(rule)).toThrow(/invalid/);
    expect(() => validateObject({ apiVersion: 'v9', kind: 'Thing', metadata: { name: 'x' } })).toThrow(
      /no schema/,
    );
  });

  it('the optional components build on production and validate: KEDA, fault injection, ServiceMonitor, private registry', () => {
    const keda = kustomizeWith('overlays/production', ['components/keda']);
    const fault = kustomizeWith('overlays/production', ['components/istio-fault-injection']);
    const operator = kustomizeWith('overlays/production', ['components/prometheus-operator']);
    const registry = kustomizeWith('overlays/production', ['components/private-registry']);
    for (const obj of [...keda, ...fault, ...operator, ...registry]) validateObject(obj);
    // The pull secret is there only when opted in.
    expect(find(registry, 'Deployment', 'mcp-agent').spec.template.spec.imagePullSecrets).toEqual([
      { name: 'registry-secret' },
    ]);
    for (const overlay of OVERLAYS)
      expect(
        find(get(overlay), 'Deployment', 'mcp-agent').spec.template.spec.imagePullSecrets,
        overlay,
      ).toBeUndefined();
    // KEDA makes its own HPA: the base one is gone, the ScaledObject targets the Deployment.
    expect(keda.filter((o) => o.kind === 'HorizontalPodAutoscaler')).toEqual([]);
    expect(find(keda, 'ScaledObject').spec.scaleTargetRef.name).toBe('mcp-agent');
    // The fault delay (0.1 % of requests, 5 s) is only there when opted in.
    const route = find(fault, 'VirtualService').spec.http.find((r: { name: string }) => r.name === 'http');
    expect(route.fault).toEqual({ delay: { percentage: { value: 0.1 }, fixedDelay: '5s' } });
    expect(find(operator, 'ServiceMonitor').spec.endpoints[0].port).toBe('metrics');
    // The job the adapter rule and KEDA query, as with deploy/monitoring/prometheus.yml.
    expect(find(operator, 'ServiceMonitor').spec.endpoints[0].relabelings).toEqual([
      { targetLabel: 'job', replacement: 'mcp-agents' },
    ]);
  });

  it('the backup component builds and validates: an hourly CronJob running `agentd backup` with the servers’ Redis settings to a PVC', () => {
    const objects = kustomizeWith('overlays/production', ['components/backup']);
    for (const obj of objects) validateObject(obj);
    const cron = find(objects, 'CronJob', 'agentd-backup');
    expect(cron.metadata.namespace).toBe('agent-system');
    expect(cron.spec.concurrencyPolicy).toBe('Forbid');
    const pod = cron.spec.jobTemplate.spec.template;
    const container = pod.spec.containers[0] as Container;
    // The image the overlay sets for agentd, and the agentd command line with a dated file on the PVC.
    expect(container.image).toBe(agentContainer(objects).image);
    expect((container.args as string[]).join(' ')).toMatch(
      /node \/app\/bin\/agentd\.js backup --out "\/backup\/agentd-\$\(date -u \+%Y%m%dT%H%M%SZ\)\.ndjson"/,
    );
    const mount = (container.volumeMounts as Array<{ name: string; mountPath: string }>).find(
      (m) => m.mountPath === '/backup',
    );
    const volume = pod.spec.volumes.find((v: { name: string }) => v.name === mount?.name);
    expect(volume.persistentVolumeClaim.claimName).toBe(
      find(objects, 'PersistentVolumeClaim', 'agentd-backups').metadata.name,
    );
    // The Redis settings are the Deployment's, by the same references, and agentd reads them.
    const redisEnv = (c: Container): EnvVar[] => (c.env ?? []).filter((e) => e.name.startsWith('REDIS_'));
    expect(redisEnv(container)).toEqual(redisEnv(agentContainer(objects)));
    for (const e of container.env ?? []) expect(AGENTD_ENV.has(e.name), e.name).toBe(true);
    // Redis admits the job's pods (its base policy admits only agentd's).
    const policy = find(objects, 'NetworkPolicy', 'redis-ingress-backup');
    expect(policy.spec.ingress[0].from[0].podSelector.matchLabels).toEqual({ app: pod.metadata.labels.app });
    // Only there when opted in.
    for (const overlay of OVERLAYS)
      expect(
        get(overlay).filter((o) => o.kind === 'CronJob'),
        overlay,
      ).toEqual([]);
  });

  it('Prometheus sends the metrics token: the ServiceMonitor and the prometheus.yml Secret carry agentd’s METRICS_TOKEN', () => {
    const production = get('production');
    const ref = agentContainer(production).env?.find((e) => e.name === 'METRICS_TOKEN')?.valueFrom
      ?.secretKeyRef;
    expect(ref).toEqual({ name: 'agent-secrets', key: 'metrics-token' });
    // With the Prometheus Operator: the same Secret key, on every overlay (dev has it too).
    for (const overlay of ['production', 'dev']) {
      const operator = kustomizeWith(`overlays/${overlay}`, ['components/prometheus-operator']);
      const endpoint = find(operator, 'ServiceMonitor').spec.endpoints[0];
      if (overlay === 'production') {
        expect(endpoint.authorization, overlay).toEqual({ type: 'Bearer', credentials: ref });
      } else {
        // The generated Secret's name has a hash suffix: the reference follows it.
        const secret = find(operator, 'Secret');
        expect(endpoint.authorization.credentials).toEqual({
          name: secret.metadata.name,
          key: 'metrics-token',
        });
        expect(secret.data).toHaveProperty('metrics-token');
      }
    }
    // With deploy/monitoring/prometheus.yml: the Secret mounted where its jobs read the file.
    const prom = parseManifests(
      readFileSync(join(ROOT, 'deploy/monitoring/prometheus.yml'), 'utf8'),
    )[0] as unknown as {
      scrape_configs: Array<{ authorization?: { credentials_file?: string } }>;
    };
    const [file] = [...new Set(prom.scrape_configs.flatMap((j) => j.authorization?.credentials_file ?? []))];
    const template = parseManifests(
      readFileSync(join(K8S, 'overlays/production/secrets.example.yaml'), 'utf8'),
    );
    const secret = find(template, 'Secret', 'agentd-metrics-token');
    // The namespace of the adapter's rules, where Prometheus runs.
    expect(secret.metadata.namespace).toBe('monitoring');
    expect(file).toBe(
      `/etc/prometheus/secrets/${secret.metadata.name}/${Object.keys(secret.stringData ?? {})[0]}`,
    );
  });
});

describe('the manifests match what agentd does', () => {
  it('every environment variable set on agentd is one agentd reads', () => {
    for (const overlay of OVERLAYS) {
      const names = (agentContainer(get(overlay)).env ?? []).map((e) => e.name);
      expect(names.length).toBeGreaterThan(10);
      expect(
        names.filter((n) => !AGENTD_ENV.has(n)),
        overlay,
      ).toEqual([]);
    }
    // The test really knows agentd's names (and GOOGLE_APPLICATION_CREDENTIALS is not one).
    expect(AGENTD_ENV.has('JWT_SECRET') && AGENTD_ENV.has('REDIS_HOST')).toBe(true);
    expect(AGENTD_ENV.has('GOOGLE_APPLICATION_CREDENTIALS')).toBe(false);
  });

  it('the ConfigMap carries the standard keys, each wired to an agentd setting or documented as informational', () => {
    const objects = get('production');
    const data = find(objects, 'ConfigMap', 'agent-config').data ?? {};
    const standardKeys = [
      'redis.host',
      'redis.port',
      'prometheus.enabled',
      'log.level',
      'agent.max_concurrent_workflows',
      'agent.heartbeat_interval',
      'mcp.server.timeout',
      'optimization.enabled',
    ];
    for (const key of standardKeys) expect(data, key).toHaveProperty(key);
    const wired = new Set(
      (agentContainer(objects).env ?? []).flatMap((e) =>
        e.valueFrom?.configMapKeyRef?.name === 'agent-config' ? [e.valueFrom.configMapKeyRef.key] : [],
      ),
    );
    const unwired = Object.keys(data).filter((k) => !wired.has(k));
    expect(unwired).toEqual(['optimization.enabled']);
    expect(readFileSync(join(ROOT, 'docs/deployment.md'), 'utf8')).toMatch(
      /`optimization\.enabled`[^\n]*informational/,
    );
    // Every referenced key exists, in ConfigMap and Secret alike (dev generates the Secret).
    const dev = get('dev');
    for (const e of agentContainer(dev).env ?? []) {
      const ref = e.valueFrom?.configMapKeyRef ?? e.valueFrom?.secretKeyRef;
      if (!ref) continue;
      const kind = e.valueFrom?.configMapKeyRef ? 'ConfigMap' : 'Secret';
      expect(
        Object.keys(find(dev, kind, ref.name).data ?? {}),
        `${e.name} → ${ref.name}/${ref.key}`,
      ).toContain(ref.key);
    }
  });

  it('ports are agentd’s own: HTTP 8080, gRPC 8081, metrics 9090, and Prometheus is told 9090', () => {
    expect([DEFAULTS.server.httpPort, DEFAULTS.server.grpcPort, DEFAULTS.prometheus.port]).toEqual([
      8080, 8081, 9090,
    ]);
    for (const overlay of OVERLAYS) {
      const objects = get(overlay);
      const c = agentContainer(objects);
      expect(c.ports).toEqual([
        { name: 'http', containerPort: DEFAULTS.server.httpPort },
        { name: 'grpc', containerPort: DEFAULTS.server.grpcPort },
        { name: 'metrics', containerPort: DEFAULTS.prometheus.port },
      ]);
      // The listeners are not moved off their defaults by the environment.
      const env = resolvedEnv(objects);
      for (const name of ['HTTP_PORT', 'GRPC_PORT', 'METRICS_PORT']) expect(env).not.toHaveProperty(name);
      const annotations = find(objects, 'Deployment', 'mcp-agent').spec.template.metadata.annotations;
      expect(annotations['prometheus.io/port']).toBe(String(DEFAULTS.prometheus.port));
      expect(annotations['prometheus.io/path']).toBe('/metrics');
      const svc = find(objects, 'Service', 'mcp-agent-service').spec.ports.map(
        (p: { name: string; port: number; targetPort: string }) => [p.name, p.port, p.targetPort],
      );
      expect(svc).toEqual([
        ['http', 80, 'http'],
        ['grpc', 8081, 'grpc'],
        ['metrics', 9090, 'metrics'],
      ]);
    }
  });

  it('probes use /health, /ready and /startup on the HTTP port', () => {
    const c = agentContainer(get('production')) as Record<
      string,
      { httpGet: { path: string; port: string } }
    >;
    expect(c.livenessProbe?.httpGet).toEqual({ path: '/health', port: 'http' });
    expect(c.readinessProbe?.httpGet).toEqual({ path: '/ready', port: 'http' });
    expect(c.startupProbe?.httpGet).toEqual({ path: '/startup', port: 'http' });
  });

  it('the grace period outlasts preStop plus agentd’s shutdown delay and drain', () => {
    for (const overlay of OVERLAYS) {
      const objects = get(overlay);
      const pod = find(objects, 'Deployment', 'mcp-agent').spec.template.spec;
      const c = agentContainer(objects) as Container & {
        lifecycle: { preStop: { exec: { command: string[] } } };
      };
      const cmd = c.lifecycle.preStop.exec.command;
      expect(cmd[0]).toBe('sleep');
      const preStop = Number(cmd[1]);
      const env = resolvedEnv(objects);
      const drain = Number(env.AGENTD_SHUTDOWN_DRAIN_MS ?? DEFAULTS.server.shutdownDrainMs) / 1000;
      const delay = Number(env.AGENTD_SHUTDOWN_DELAY_MS ?? DEFAULTS.server.shutdownDelayMs) / 1000;
      expect(preStop).toBeGreaterThan(0);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStop + drain + delay);
    }
  });

  it('agentd and Redis run locked down: non-root, no privilege escalation, read-only root, no capabilities', () => {
    const objects = get('production');
    for (const kind of ['Deployment', 'StatefulSet']) {
      const pod = find(objects, kind).spec.template.spec;
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      for (const c of pod.containers) {
        expect(c.securityContext).toEqual({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
      }
    }
    // The image's user is the pod's (the Dockerfile's numeric USER).
    expect(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).toMatch(
      new RegExp(`^USER ${find(objects, 'Deployment').spec.template.spec.securityContext.runAsUser}:`, 'm'),
    );
    // /tmp is the one writable path, as the image expects; everything else is mounted read-only.
    const mounts = find(objects, 'Deployment').spec.template.spec.containers[0].volumeMounts as Array<{
      mountPath: string;
      readOnly?: boolean;
    }>;
    expect(mounts.filter((m) => !m.readOnly).map((m) => m.mountPath)).toEqual(['/tmp']);
  });

  it('the HPA is the reference one: 3–20 replicas, CPU 70 %, memory 80 %, active_workflows 10 per pod, its behavior', () => {
    const hpa = find(get('production'), 'HorizontalPodAutoscaler');
    expect(hpa.spec).toEqual({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'mcp-agent' },
      minReplicas: 3,
      maxReplicas: 20,
      metrics: [
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
        },
        {
          type: 'Resource',
          resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 80 } },
        },
        {
          type: 'Pods',
          pods: {
            metric: { name: 'active_workflows' },
            target: { type: 'AverageValue', averageValue: '10' },
          },
        },
      ],
      behavior: {
        scaleDown: {
          stabilizationWindowSeconds: 300,
          policies: [{ type: 'Percent', value: 10, periodSeconds: 60 }],
        },
        scaleUp: {
          stabilizationWindowSeconds: 60,
          policies: [
            { type: 'Percent', value: 50, periodSeconds: 60 },
            { type: 'Pods', value: 2, periodSeconds: 60 },
          ],
          selectPolicy: 'Max',
        },
      },
    });
    // The adapter exposes exactly that metric.
    const rules = find(get('production'), 'ConfigMap', 'adapter-config').data?.['config.yaml'] ?? '';
    expect(rules).toContain('seriesQuery: \'active_workflows{job="mcp-agents",namespace!="",pod!=""}\'');
    expect(rules).toContain('as: "active_workflows"');
  });

  it('KEDA reads the work queue agentd really keeps in Redis, with the Redis password', () => {
    const keda = kustomizeWith('overlays/production', ['components/keda']);
    const triggers = find(keda, 'ScaledObject').spec.triggers as Array<{
      type: string;
      metadata: Record<string, string>;
    }>;
    const redis = triggers.find((t) => t.type === 'redis');
    expect(redis?.metadata.listName).toBe(new RedisKeys(DEFAULTS.store.redis.keyPrefix).waiting('echo'));
    expect(redis?.metadata.address).toBe(
      `${find(keda, 'ConfigMap', 'agent-config').data?.['redis.host']}:${find(keda, 'ConfigMap', 'agent-config').data?.['redis.port']}`,
    );
    expect(find(keda, 'TriggerAuthentication').spec.secretTargetRef).toEqual([
      { parameter: 'password', name: 'agent-secrets', key: 'redis-password' },
    ]);
    const queries = triggers.filter((t) => t.type === 'prometheus').map((t) => t.metadata.query);
    expect(queries).toEqual([
      'max(agentd_queue_depth{job="mcp-agents",namespace="agent-system"})',
      'sum(active_workflows{job="mcp-agents",namespace="agent-system"})',
    ]);
  });

  it('network policy: the gateway and Prometheus reach agentd, only agentd reaches Redis', () => {
    const objects = get('production');
    const agent = find(objects, 'NetworkPolicy', 'mcp-agent-ingress').spec;
    expect(agent.podSelector).toEqual({ matchLabels: { app: 'mcp-agent' } });
    expect(agent.ingress).toEqual([
      {
        from: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'istio-system' } },
            podSelector: { matchLabels: { istio: 'ingressgateway' } },
          },
        ],
        ports: [{ port: 8080 }, { port: 8081 }],
      },
      {
        from: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
            podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } },
          },
        ],
        ports: [{ port: 9090 }],
      },
    ]);
    const redis = find(objects, 'NetworkPolicy', 'redis-ingress').spec;
    expect(redis.ingress).toEqual([
      { from: [{ podSelector: { matchLabels: { app: 'mcp-agent' } } }], ports: [{ port: 6379 }] },
    ]);
  });

  it('production: no Secret in git, mTLS STRICT, current outlier detection, no fault injection, TLS with redirect', () => {
    const objects = get('production');
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    expect(find(objects, 'PeerAuthentication', 'default').spec).toEqual({ mtls: { mode: 'STRICT' } });
    const dr = find(objects, 'DestinationRule').spec.trafficPolicy;
    expect(dr.outlierDetection.consecutive5xxErrors).toBe(5);
    expect(JSON.stringify(dr)).not.toMatch(/consecutiveErrors|circuitBreaker/);
    const vs = find(objects, 'VirtualService').spec;
    expect(JSON.stringify(vs)).not.toContain('fault');
    expect(vs.http.find((r: { name: string }) => r.name === 'grpc').route[0].destination.port.number).toBe(
      8081,
    );
    const servers = find(objects, 'Gateway').spec.servers as Array<{
      port: { number: number };
      tls: Record<string, unknown>;
    }>;
    expect(servers.find((s) => s.port.number === 443)?.tls).toMatchObject({
      mode: 'SIMPLE',
      credentialName: 'agent-tls-secret',
    });
    expect(servers.find((s) => s.port.number === 80)?.tls).toEqual({ httpsRedirect: true });
    expect(resolvedEnv(objects).AGENTD_PUBLIC_URL).toBe('https://agents.example.com');
    // The Secret template names every key the manifests reference, and holds placeholders only.
    const template = parseManifests(
      readFileSync(join(K8S, 'overlays/production/secrets.example.yaml'), 'utf8'),
    );
    for (const obj of template) validateObject(obj);
    const volumes = find(objects, 'Deployment').spec.template.spec.volumes as Array<{
      secret?: { secretName: string; items: Array<{ key: string }> };
    }>;
    const secretKeys = [
      ...(agentContainer(objects).env ?? []).flatMap((e) =>
        e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef.key] : [],
      ),
      ...volumes.flatMap((v) =>
        v.secret?.secretName === 'agent-secrets' ? v.secret.items.map((i) => i.key) : [],
      ),
    ];
    expect(Object.keys(find(template, 'Secret', 'agent-secrets').stringData ?? {}).sort()).toEqual(
      [...new Set(secretKeys)].sort(),
    );
    for (const obj of template)
      for (const v of Object.values(obj.stringData ?? {})) expect(v).toMatch(/^REPLACE_ME/);
  });

  it('production runs the hardened configuration, with its key files from the Secret', () => {
    const objects = get('production');
    const pod = find(objects, 'Deployment').spec.template.spec;
    const c = pod.containers[0];
    expect(c.args).toEqual(['serve', '--config', '/etc/agentd/agentd.yaml']);
    const file = readFileSync(join(K8S, 'overlays/production/agentd.yaml'), 'utf8');
    // The overlay's copy is config/agentd.hardened.yaml, byte for byte.
    expect(file).toBe(readFileSync(join(ROOT, 'config/agentd.hardened.yaml'), 'utf8'));
    const configMount = c.volumeMounts.find(
      (m: { mountPath: string }) => m.mountPath === '/etc/agentd/agentd.yaml',
    );
    const configVolume = pod.volumes.find((v: { name: string }) => v.name === configMount.name);
    expect(find(objects, 'ConfigMap', configVolume.configMap.name).data?.[configMount.subPath]).toBe(file);
    // Every file the configuration reads from /etc/agentd/secrets is an item of the mounted Secret.
    const secretMount = c.volumeMounts.find(
      (m: { mountPath: string }) => m.mountPath === '/etc/agentd/secrets',
    );
    const items = pod.volumes
      .find((v: { name: string }) => v.name === secretMount.name)
      .secret.items.map((i: { path: string }) => `/etc/agentd/secrets/${i.path}`);
    const config = loadConfig({
      configPath: join(K8S, 'overlays/production/agentd.yaml'),
      env: { METRICS_TOKEN: 'x', REDIS_HOST: 'redis' },
    }).config;
    expect([config.auth.apiKeysFile, config.cardSigning.keyFile].sort()).toEqual([...items].sort());
    // The listeners it configures are the container's ports.
    expect([config.server.httpPort, config.server.grpcPort, config.prometheus.port]).toEqual(
      c.ports.map((p: { containerPort: number }) => p.containerPort),
    );
  });

  it('dev: obviously-dev secrets, one replica, no Istio', () => {
    const objects = get('dev');
    const secret = find(objects, 'Secret');
    for (const v of Object.values(secret.data ?? {}))
      expect(Buffer.from(v, 'base64').toString()).toMatch(/^dev-only-/);
    expect(find(objects, 'Deployment').spec.replicas).toBe(1);
    expect(objects.filter((o) => o.apiVersion.includes('istio.io'))).toEqual([]);
  });

  it('multi-region: each region has its own Redis, regional names and region labels on its pods', () => {
    const urls = new Set<string>();
    for (const region of ['us-east', 'eu-west']) {
      const objects = get(`multi-region/${region}`);
      expect(find(objects, 'StatefulSet', 'redis').metadata.labels?.region).toBe(region);
      for (const kind of ['Deployment', 'StatefulSet'])
        expect(find(objects, kind).spec.template.metadata.labels.region, kind).toBe(region);
      // Labels never enter selectors (they are immutable on a live Deployment).
      expect(find(objects, 'Deployment').spec.selector).toEqual({ matchLabels: { app: 'mcp-agent' } });
      const url = resolvedEnv(objects).AGENTD_PUBLIC_URL as string;
      expect(url).toBe(`https://${region}.agents.example.com`);
      urls.add(url);
      expect(find(objects, 'Gateway').spec.servers[0].hosts).toEqual([
        'agents.example.com',
        `${region}.agents.example.com`,
      ]);
    }
    expect(urls.size).toBe(2);
  });
});
