/**
 * deploy/monitoring as Prometheus itself reads it: `promtool check config` on prometheus.yml,
 * `promtool check rules` on every rule file and `promtool test rules` on the unit tests, which
 * must cover every alert both firing and staying quiet. promtool is Debian's `prometheus`
 * package (installed like redis-server when missing and running as root).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ensureDebianTool } from '../helpers/debian-tool.js';
import { find, K8S, kustomize, ROOT, type K8sObject } from '../helpers/k8s-manifests.js';
import {
  endpointsRoleTargets,
  podOf,
  podRoleTargets,
  relabel,
  type DiscoveredPod,
  type Labels,
  type RelabelConfig,
} from '../helpers/prometheus-targets.js';

const MONITORING = resolve(import.meta.dirname, '../../deploy/monitoring');
const ALERTS = join(MONITORING, 'alerts');
const TESTS = join(ALERTS, 'tests');

const yamlFiles = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.yml'))
    .sort()
    .map((f) => join(dir, f));

function promtool(args: string[], cwd = MONITORING): { status: number | null; output: string } {
  const res = spawnSync('promtool', args, { cwd, encoding: 'utf8' });
  return { status: res.status, output: `${res.stdout}${res.stderr}` };
}

interface ScrapeConfig {
  job_name: string;
  kubernetes_sd_configs?: Array<{ role: string; namespaces?: { names: string[] } }>;
  static_configs?: Array<{ targets: string[] }>;
  file_sd_configs?: Array<{ files: string[] }>;
  relabel_configs?: Array<Record<string, unknown>>;
  authorization?: { type?: string; credentials?: string; credentials_file?: string };
}

/** Where every agentd scrape job reads the metrics token (a Secret mount, or compose's bind mount). */
const METRICS_TOKEN_FILE = '/etc/prometheus/secrets/agentd-metrics-token/token';
const AGENTD_JOBS = ['kubernetes-pods', 'mcp-agents', 'agentd'];

interface RuleFile {
  groups: Array<{ name: string; rules: Array<{ alert?: string; expr: string; for?: string }> }>;
}

interface RuleTestFile {
  rule_files: string[];
  tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
}

describe('deploy/monitoring', () => {
  const config = parse(readFileSync(join(MONITORING, 'prometheus.yml'), 'utf8')) as {
    rule_files: string[];
    scrape_configs: ScrapeConfig[];
  };
  let scratch: string;

  beforeAll(() => {
    ensureDebianTool('promtool', 'prometheus');
    scratch = mkdtempSync(join(tmpdir(), 'agentd-monitoring-'));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('prometheus.yml has the scrape jobs: prometheus, kubernetes-pods, mcp-agents and the compose services', () => {
    const jobs = Object.fromEntries(config.scrape_configs.map((j) => [j.job_name, j]));
    expect(Object.keys(jobs)).toEqual(['prometheus', 'kubernetes-pods', 'mcp-agents', 'agentd']);
    expect(jobs['kubernetes-pods']?.kubernetes_sd_configs).toEqual([
      { role: 'pod', namespaces: { names: ['agent-system'] } },
    ]);
    expect(jobs['mcp-agents']?.kubernetes_sd_configs).toEqual([
      { role: 'endpoints', namespaces: { names: ['agent-system'] } },
    ]);
    expect(jobs['mcp-agents']?.relabel_configs).toContainEqual({
      source_labels: ['__meta_kubernetes_endpoint_port_name'],
      action: 'keep',
      regex: 'metrics',
    });
    expect(jobs.agentd?.static_configs?.[0]?.targets).toEqual(['agentd:9090', 'agentd-worker:9090']);
    expect(config.rule_files).toEqual(['alerts/*.yml']);
  });

  it('every agentd job sends the metrics token from the one credentials file; Prometheus’ own job does not', () => {
    const auth = Object.fromEntries(config.scrape_configs.map((j) => [j.job_name, j.authorization]));
    for (const job of AGENTD_JOBS)
      expect(auth[job], job).toEqual({ type: 'Bearer', credentials_file: METRICS_TOKEN_FILE });
    expect(auth.prometheus).toBeUndefined();
  });

  /**
   * Debian builds Prometheus without Kubernetes discovery, so its promtool rejects
   * `kubernetes_sd_configs` as an unknown field. The copy checked here swaps each of them for
   * an empty file discovery and the credentials file for one in the scratch directory
   * (`tokenFile`, or none); everything else (globals, alerting, relabelling regexes, static
   * jobs, the rule files) is checked as written.
   */
  function checkCopy(name: string, tokenFile: string | undefined): { status: number | null; output: string } {
    const copy = structuredClone(config) as Record<string, unknown> & { scrape_configs: ScrapeConfig[] };
    for (const job of copy.scrape_configs) {
      if (job.authorization?.credentials_file === METRICS_TOKEN_FILE)
        job.authorization.credentials_file = join(scratch, 'secrets', 'token');
      if (!job.kubernetes_sd_configs) continue;
      delete job.kubernetes_sd_configs;
      job.file_sd_configs = [{ files: [join(scratch, `${job.job_name}.json`)] }];
      writeFileSync(join(scratch, `${job.job_name}.json`), '[]');
    }
    rmSync(join(scratch, 'secrets'), { recursive: true, force: true });
    if (tokenFile !== undefined) {
      mkdirSync(join(scratch, 'secrets'));
      writeFileSync(join(scratch, 'secrets', 'token'), tokenFile);
    }
    cpSync(ALERTS, join(scratch, 'alerts'), { recursive: true });
    writeFileSync(join(scratch, name), stringify(copy));
    return promtool(['check', 'config', name], scratch);
  }

  it('promtool check config accepts prometheus.yml and loads its rule files', () => {
    const res = checkCopy('prometheus.yml', 'a-metrics-token\n');
    expect(res.output).toContain('SUCCESS: 3 rule files found');
    expect(res.output).toContain('is valid prometheus config file syntax');
    expect(res.status, res.output).toBe(0);
  });

  it('promtool check config rejects prometheus.yml where the credentials file is missing', () => {
    // Why the file must be mounted in every deployment, even where agentd has no token.
    const res = checkCopy('prometheus-no-token.yml', undefined);
    expect(res.output).toContain('credentials or bearer token file');
    expect(res.status, res.output).not.toBe(0);
  });

  it('promtool check rules accepts every rule file', () => {
    const res = promtool(['check', 'rules', ...yamlFiles(ALERTS)]);
    expect(res.status, res.output).toBe(0);
  });

  it('promtool test rules passes every unit test', () => {
    const res = promtool(['test', 'rules', ...yamlFiles(TESTS)], TESTS);
    expect(res.output).not.toContain('FAILED');
    expect(res.status, res.output).toBe(0);
  });

  it('every alert has a unit test where it fires and one where it stays quiet', () => {
    const alerts = yamlFiles(ALERTS).flatMap((f) =>
      (parse(readFileSync(f, 'utf8')) as RuleFile).groups.flatMap((g) => g.rules.map((r) => r.alert)),
    );
    expect(alerts).toHaveLength(12);
    const firing = new Set<string>();
    const quiet = new Set<string>();
    for (const f of yamlFiles(TESTS)) {
      const file = parse(readFileSync(f, 'utf8')) as RuleTestFile;
      for (const t of file.tests)
        for (const a of t.alert_rule_test ?? [])
          ((a.exp_alerts ?? []).length > 0 ? firing : quiet).add(a.alertname);
    }
    for (const alert of alerts) {
      expect(firing, `${alert} fires in some test`).toContain(alert);
      expect(quiet, `${alert} stays quiet in some test`).toContain(alert);
    }
  });

  it('the Grafana dashboards use the provisioned datasource by uid, in the current schema', () => {
    const provisioning = join(MONITORING, 'grafana/provisioning');
    const ds = parse(readFileSync(join(provisioning, 'datasources/prometheus.yml'), 'utf8')) as {
      datasources: Array<{ uid: string; type: string; url: string }>;
    };
    expect(ds.datasources).toHaveLength(1);
    const [prometheus] = ds.datasources;
    expect(prometheus).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
    const providers = parse(readFileSync(join(provisioning, 'dashboards/agentd.yml'), 'utf8')) as {
      providers: Array<{ type: string; options: { path: string } }>;
    };
    expect(providers.providers[0]).toMatchObject({
      type: 'file',
      options: { path: '/var/lib/grafana/dashboards' },
    });

    const dir = join(MONITORING, 'grafana/dashboards');
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files.sort()).toEqual([
      'agentd-mcp.json',
      'agentd-overview.json',
      'agentd-resources.json',
      'agentd-store.json',
      'agentd-tasks.json',
    ]);
    const wrong: string[] = [];
    for (const f of files) {
      const d = JSON.parse(readFileSync(join(dir, f), 'utf8')) as {
        uid: string;
        schemaVersion: number;
        panels: Array<{
          title: string;
          type: string;
          datasource?: { uid: string };
          gridPos: { x: number; w: number };
          targets?: Array<{ expr: string; datasource: { uid: string } }>;
        }>;
        templating: {
          list: Array<{
            name: string;
            datasource: { uid: string };
            definition: string;
            query: { query: string };
          }>;
        };
      };
      expect(`${d.uid}.json`).toBe(f);
      expect(d.schemaVersion).toBe(41);
      for (const p of d.panels) {
        if (p.gridPos.x + p.gridPos.w > 24) wrong.push(`${f} ${p.title}: wider than the grid`);
        if (p.type === 'row') continue;
        if (p.datasource?.uid !== prometheus?.uid) wrong.push(`${f} ${p.title}: panel datasource`);
        if (!p.targets?.length) wrong.push(`${f} ${p.title}: no query`);
        for (const t of p.targets ?? [])
          if (t.datasource.uid !== prometheus?.uid || !t.expr) wrong.push(`${f} ${p.title}: target`);
      }
      for (const v of d.templating.list) {
        if (v.datasource.uid !== prometheus?.uid) wrong.push(`${f} variable ${v.name}: datasource`);
        if (v.query.query !== v.definition)
          wrong.push(`${f} variable ${v.name}: query differs from definition`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

/**
 * What prometheus.yml's two Kubernetes jobs make of the pods the overlays run: discovery
 * labels for the pod and endpoints roles built from the manifests (pod labels, annotations,
 * container ports, the Services selecting them), then each job's relabel_configs evaluated.
 */
describe('deploy/monitoring/prometheus.yml on the pods of the Kubernetes overlays', () => {
  const config = parse(readFileSync(join(MONITORING, 'prometheus.yml'), 'utf8')) as {
    global: { external_labels: Record<string, string> };
    scrape_configs: Array<ScrapeConfig & { relabel_configs: RelabelConfig[] }>;
  };
  const job = (name: string): RelabelConfig[] =>
    config.scrape_configs.find((j) => j.job_name === name)?.relabel_configs ?? [];

  /** The distinct targets (final label sets) both Kubernetes jobs scrape for one pod. */
  function scrapedBy(
    pod: DiscoveredPod,
    services: K8sObject[],
    jobs = { pods: job('kubernetes-pods'), endpoints: job('mcp-agents') },
  ): Labels[] {
    const kept = [
      ...podRoleTargets(pod).map((t) => relabel(t, 'kubernetes-pods', jobs.pods)),
      ...endpointsRoleTargets(pod, services).map((t) => relabel(t, 'mcp-agents', jobs.endpoints)),
    ].filter((t): t is Labels => t !== undefined);
    // Prometheus scrapes targets with identical label sets once.
    return [...new Map(kept.map((t) => [JSON.stringify(Object.entries(t).sort()), t])).values()];
  }

  const overlays = ['dev', 'production', 'multi-region/us-east', 'multi-region/eu-west'];
  it.each(overlays)(
    '%s: each agentd pod is scraped by exactly one job, mcp-agents, with the labels the autoscalers query',
    (overlay) => {
      const objects = kustomize(`overlays/${overlay}`);
      const services = objects.filter((o) => o.kind === 'Service');
      const agentd = podOf(find(objects, 'Deployment', 'mcp-agent'), '10.0.0.7');
      const targets = scrapedBy(agentd, services);
      expect(targets).toHaveLength(1);
      const region = find(objects, 'Deployment', 'mcp-agent').spec.template.metadata.labels.region as
        string | undefined;
      expect(targets[0]).toMatchObject({
        job: 'mcp-agents',
        __address__: '10.0.0.7:9090',
        __metrics_path__: '/metrics',
        namespace: 'agent-system',
        pod: agentd.name,
        service: 'mcp-agent-service',
      });
      // The pod's region label reaches the series (multi-region); elsewhere there is none.
      expect(targets[0]?.region).toBe(region);
      if (overlay.startsWith('multi-region/')) expect(region).toBe(overlay.split('/')[1]);

      // Redis is not annotated and sits behind no port named metrics: scraped by neither.
      expect(scrapedBy(podOf(find(objects, 'StatefulSet', 'redis'), '10.0.0.8'), services)).toEqual([]);
    },
  );

  it('kubernetes-pods still scrapes any other annotated pod in agent-system, on its annotated port and path', () => {
    const objects = kustomize('overlays/multi-region/eu-west');
    const other: DiscoveredPod = {
      name: 'sidecar-exporter-0',
      namespace: 'agent-system',
      ip: '10.0.0.9',
      labels: { app: 'sidecar-exporter', region: 'eu-west' },
      annotations: {
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': '9100',
        'prometheus.io/path': '/stats',
      },
      ports: [
        { name: 'http', containerPort: 8000 },
        { name: 'stats', containerPort: 9100 },
      ],
    };
    expect(
      scrapedBy(
        other,
        objects.filter((o) => o.kind === 'Service'),
      ),
    ).toEqual([
      {
        job: 'kubernetes-pods',
        __address__: '10.0.0.9:9100',
        __metrics_path__: '/stats',
        instance: '10.0.0.9:9100',
        namespace: 'agent-system',
        pod: 'sidecar-exporter-0',
        region: 'eu-west',
      },
    ]);
  });

  it('the check has teeth: without the drop of agentd’s pods in kubernetes-pods, agentd is scraped twice', () => {
    const objects = kustomize('overlays/production');
    const pods = job('kubernetes-pods').filter(
      (c) => !(c.action === 'drop' && c.source_labels?.[0] === '__meta_kubernetes_pod_label_app'),
    );
    expect(pods).toHaveLength(job('kubernetes-pods').length - 1);
    const targets = scrapedBy(
      podOf(find(objects, 'Deployment', 'mcp-agent'), '10.0.0.7'),
      objects.filter((o) => o.kind === 'Service'),
      {
        pods,
        endpoints: job('mcp-agents'),
      },
    );
    expect(targets.map((t) => t.job).sort()).toEqual(['kubernetes-pods', 'mcp-agents']);
  });

  it('external_labels.region is a region of the multi-region overlays, and docs/deployment.md names every one', () => {
    const regions = readdirSync(join(K8S, 'overlays/multi-region')).sort();
    expect(regions).toEqual(['eu-west', 'us-east']);
    const podRegion = (r: string): unknown =>
      find(kustomize(`overlays/multi-region/${r}`), 'Deployment', 'mcp-agent').spec.template.metadata.labels
        .region;
    for (const r of regions) expect(podRegion(r), r).toBe(r);
    // prometheus.yml is us-east's Prometheus (its comment says so); the value is the pod label's.
    expect(config.global.external_labels.region).toBe('us-east');
    // The per-region table in the deployment guide: overlay → external_labels.region.
    const docs = readFileSync(join(ROOT, 'docs/deployment.md'), 'utf8');
    const rows = [
      ...docs.matchAll(/^\| `overlays\/multi-region\/([a-z0-9-]+)` +\| `region: ([a-z0-9-]+)` +\|/gm),
    ]
      .map((m) => [m[1], m[2]])
      .sort();
    expect(rows).toEqual(regions.map((r) => [r, r]));
  });
});
