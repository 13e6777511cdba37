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
