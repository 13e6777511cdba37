/**
 * The monitoring stack against a real agentd: Debian's Prometheus on loopback scrapes an
 * agentd started in-process (echo, countdown, a failing module agent, a `tools` agent on
 * agentd's demo MCP server and a rate-limited echo), evaluates the real rule files and answers
 * every query of the Grafana dashboards, each metric they name having series. Everything is
 * awaited by polling Prometheus' HTTP API with a deadline.
 *
 * Short intervals: scrapes and rule evaluation every second, and the rule files with every
 * `for` cut to 3 s (expressions unchanged) so an alert goes pending, then firing, within the
 * test. Needs `npm run build` first (the demo MCP server runs as `bin/agentd.js mcp-demo-server`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Client } from '@a2a-js/sdk/client';
import { TaskState, type Task } from '@a2a-js/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { closeSdkClient } from '../helpers/grpc.js';
import { startPrometheus, type PromAlert, type PrometheusProcess } from '../helpers/prometheus-server.js';
import { freePort } from '../helpers/redis-server.js';
import { clientFor, sendRequest } from '../helpers/sdk-client.js';
import { DEMO_AGENTS, startServer, type TestServer } from '../helpers/server.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import { messageJson, rest, rpc } from '../helpers/wire.js';
import { send, toolCall } from '../mcp/helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const MONITORING = join(ROOT, 'deploy/monitoring');
const DASHBOARDS = join(MONITORING, 'grafana/dashboards');
const BIN = join(ROOT, 'bin/agentd.js');

interface Target {
  readonly expr: string;
}
interface Panel {
  readonly title: string;
  readonly type: string;
  readonly targets?: Target[];
  readonly panels?: Panel[];
}
interface Dashboard {
  readonly uid: string;
  readonly panels: Panel[];
  readonly templating: { list: Array<{ name: string; definition: string }> };
}

/** The rule files as written, with every `for` cut to `forDuration`. */
function shortenedRules(forDuration: string): Record<string, string> {
  const files: Record<string, string> = {};
  const dir = join(MONITORING, 'alerts');
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.yml'))) {
    const doc = parse(readFileSync(join(dir, name), 'utf8')) as {
      groups: Array<{ rules: Array<{ for?: string }> }>;
    };
    for (const g of doc.groups) for (const r of g.rules) if (r.for) r.for = forDuration;
    files[`rules-${name}`] = stringify(doc);
  }
  return files;
}

/** Grafana's variables as concrete values: rate windows of one minute, every label value. */
function concrete(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '5s')
    .replaceAll('$__range', '5m')
    .replace(/\$\{?[a-zA-Z_]\w*\}?/g, '.*');
}

function dashboards(): Dashboard[] {
  return readdirSync(DASHBOARDS)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(DASHBOARDS, f), 'utf8')) as Dashboard);
}

const allPanels = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);

/** The metric names a query selects: every selector in the dashboards is written `name{...}`. */
const metricNames = (expr: string): string[] => [
  ...new Set([...expr.matchAll(/([a-zA-Z_:][\w:]*)\{/g)].map((m) => m[1] as string)),
];

describe('Prometheus scraping a live agentd, with the real rules and dashboards', () => {
  let t: TestServer;
  let prom: PrometheusProcess;
  let webhook: WebhookReceiver;
  let deadReplica: string;
  const clients: Client[] = [];

  const firing = async (alertname: string, labels: Record<string, string>): Promise<PromAlert | undefined> =>
    (await prom.alerts()).find(
      (a) =>
        a.labels.alertname === alertname &&
        a.state === 'firing' &&
        Object.entries(labels).every(([k, v]) => a.labels[k] === v),
    );

  beforeAll(async () => {
    webhook = await startWebhookReceiver();
    t = await startServer({
      agents: [
        ...DEMO_AGENTS,
        { name: 'boom', kind: 'module', module: 'test/fixtures/throwing-agent.mjs' },
        { name: 'calc', kind: 'tools', servers: ['demo'] },
        { name: 'limited', kind: 'echo' },
      ],
      // One request a day per client address on this agent: its second is refused.
      rateLimits: { agents: { limited: { perIp: { ratePerSecond: 1 / 86_400, burst: 1 } } } },
      // The webhook receiver is on loopback, which webhooks may reach only when allowed.
      push: { allow: ['127.0.0.1'] },
      mcp: {
        servers: [
          { name: 'demo', transport: 'stdio', command: process.execPath, args: [BIN, 'mcp-demo-server'] },
        ],
      },
    });
    const agentd = t.server.metricsAddress as string;
    // A replica that never answers: nothing listens on this port.
    deadReplica = `127.0.0.1:${await freePort()}`;
    prom = await startPrometheus(
      (port) => ({
        global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
        rule_files: ['rules-*.yml'],
        scrape_configs: [
          { job_name: 'prometheus', static_configs: [{ targets: [`127.0.0.1:${port}`] }] },
          { job_name: 'agentd', static_configs: [{ targets: [agentd, deadReplica] }] },
        ],
      }),
      shortenedRules('3s'),
    );

    const echo = await clientFor(t.agentUrl('echo'));
    const grpc = await clientFor(t.agentUrl('echo'), 'GRPC');
    const boom = await clientFor(t.agentUrl('boom'));
    const calc = await clientFor(t.agentUrl('calc'));
    clients.push(echo, grpc, boom, calc);
    const calculate = async (expression: string, state: TaskState): Promise<void> => {
      const task: Task = await send(calc, toolCall('calculate', { expression }));
      expect(task.status?.state).toBe(state);
    };
    // rate() counts only what a series gained after Prometheus first saw it: one of each
    // outcome first, then the rest once those series are scraped.
    await echo.sendMessage(sendRequest('hello'));
    await boom.sendMessage(sendRequest('explode'));
    await calculate('1 + 1', TaskState.TASK_STATE_COMPLETED);
    await calculate('1 +', TaskState.TASK_STATE_FAILED);
    await prom.until('the first outcomes to be scraped', async () =>
      (await prom.query('workflow_executions_total{status=~"completed|failed"}')).length === 4
        ? true
        : undefined,
    );

    // Traffic on every transport, a client error on each HTTP binding, a push notification.
    for (let i = 0; i < 5; i++) await echo.sendMessage(sendRequest(`hello ${i}`));
    await grpc.sendMessage(sendRequest('over grpc'));
    await rpc(t.url, 'echo', 'GetTask', { id: 'no-such-task' });
    await rest(t.url, 'echo', 'GET', '/tasks/no-such-task');
    await rpc(t.url, 'countdown', 'SendMessage', {
      message: messageJson('count to 2'),
      configuration: { taskPushNotificationConfig: { url: webhook.url } },
    });
    await webhook.waitFor((r) => JSON.stringify(r.body).includes('TASK_STATE_COMPLETED'));
    // A rate-limit refusal, so that agentd_rate_limited_total has a series.
    await rpc(t.url, 'limited', 'SendMessage', { message: messageJson('first') });
    const refused = await rpc(t.url, 'limited', 'SendMessage', { message: messageJson('second') });
    expect(refused.status).toBe(429);
    // The failure: every task of the module agent fails.
    for (let i = 0; i < 3; i++) await boom.sendMessage(sendRequest('explode'));
    // MCP tool calls through the tools agent: two that work and one the tool refuses.
    await calculate('2 + 3', TaskState.TASK_STATE_COMPLETED);
    await calculate('2 * 21', TaskState.TASK_STATE_COMPLETED);
    await calculate('2 +', TaskState.TASK_STATE_FAILED);
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) closeSdkClient(c);
    await prom?.stop();
    await t?.close();
    await webhook?.close();
  });

  it('scrapes the series the alerts and dashboards are written against', async () => {
    // Polled until the next scrapes carry the values the traffic left.
    const value = async (promql: string, expected: (v: number) => boolean): Promise<number> => {
      let seen: number | undefined;
      try {
        return await prom.until(promql, async () => {
          const [s] = await prom.query(promql);
          seen = s ? Number(s.value[1]) : undefined;
          return seen !== undefined && expected(seen) ? seen : undefined;
        });
      } catch {
        return seen ?? NaN;
      }
    };
    const is = (n: number) => (v: number) => v === n;
    expect(await value(`up{job="agentd",instance="${t.server.metricsAddress}"}`, is(1))).toBe(1);
    expect(await value('sum(workflow_executions_total{workflow_type="boom",status="failed"})', is(4))).toBe(
      4,
    );
    expect(
      await value('sum(workflow_executions_total{workflow_type="echo",status="completed"})', is(7)),
    ).toBe(7);
    expect(await value('sum(a2a_requests_total{status="TASK_NOT_FOUND"})', is(2))).toBe(2);
    expect(await value('sum by (transport) (a2a_requests_total{transport="grpc"})', is(1))).toBe(1);
    expect(await value('mcp_tool_calls_total{server="demo",tool="calculate",status="success"}', is(3))).toBe(
      3,
    );
    expect(
      await value('mcp_tool_calls_total{server="demo",tool="calculate",status="tool_error"}', is(2)),
    ).toBe(2);
    // The MCP latency histogram reaches the 300 s call timeout.
    expect(
      await value('mcp_tool_duration_seconds_bucket{server="demo",tool="calculate",le="300"}', is(5)),
    ).toBe(5);
    expect(
      await value('a2a_messages_sent_total{message_type="push_notification"}', (v) => v >= 1),
    ).toBeGreaterThanOrEqual(1);
    expect(await value('agentd_store_up{store="memory"}', is(1))).toBe(1);
    expect(await value('agentd_queue_max_depth', is(1000))).toBe(1000);
    expect(await value('agentd_queue_depth', is(0))).toBe(0);
  });

  it('WorkflowFailureRate goes pending, then fires for the failing agents only', async () => {
    const boom = await prom.until('WorkflowFailureRate firing for boom', () =>
      firing('WorkflowFailureRate', { workflow_type: 'boom' }),
    );
    // Before firing it was pending for its 3 s "for": Prometheus keeps that in ALERTS.
    const [pending] = await prom.query(
      'count_over_time(ALERTS{alertname="WorkflowFailureRate",workflow_type="boom",alertstate="pending"}[5m])',
    );
    expect(Number(pending?.value[1])).toBeGreaterThanOrEqual(2);
    expect(Number(boom.value)).toBe(1);
    expect(boom.labels.severity).toBe('critical');
    expect(boom.annotations.description).toBe('Workflow failure rate of boom is 100%');
    // After the first scrape, one refused calculation of three: 33 %, above the 10 % threshold.
    const calc = await prom.until('WorkflowFailureRate firing for calc', () =>
      firing('WorkflowFailureRate', { workflow_type: 'calc' }),
    );
    // About 1/3: rate() extrapolates each series from when it was first scraped.
    expect(Number(calc.value)).toBeGreaterThan(0.2);
    expect(Number(calc.value)).toBeLessThan(0.5);
    const agents = (await prom.alerts())
      .filter((a) => a.labels.alertname === 'WorkflowFailureRate')
      .map((a) => a.labels.workflow_type);
    expect(agents.sort()).toEqual(['boom', 'calc']);
  });

  it('ReplicaDown fires for the replica that does not answer, not for the live one', async () => {
    const down = await prom.until('ReplicaDown firing', () =>
      firing('ReplicaDown', { instance: deadReplica }),
    );
    expect(down.labels.job).toBe('agentd');
    const alerts = await prom.alerts();
    expect(alerts.filter((a) => a.labels.alertname === 'ReplicaDown').map((a) => a.labels.instance)).toEqual([
      deadReplica,
    ]);
  });

  it('no other alert fires on this traffic (client errors are not server errors)', async () => {
    await prom.until('both expected alerts firing', async () =>
      (await firing('ReplicaDown', {})) && (await firing('WorkflowFailureRate', {})) ? true : undefined,
    );
    // Pending or firing. The system group (CPU and memory of this test process) follows the
    // machine's load, not the traffic, and is left out.
    const names = new Set(
      (await prom.alerts()).filter((a) => a.labels.component !== 'system').map((a) => a.labels.alertname),
    );
    expect([...names].sort()).toEqual(['ReplicaDown', 'WorkflowFailureRate']);
    // The rules were evaluated: Prometheus loaded all of them, in their groups.
    const rules = await fetch(`${prom.url}/api/v1/rules`).then(
      (r) =>
        r.json() as Promise<{ data: { groups: Array<{ name: string; rules: Array<{ health: string }> }> } }>,
    );
    expect(rules.data.groups.map((g) => g.name).sort()).toEqual(['agents', 'sla', 'system']);
    expect(rules.data.groups.flatMap((g) => g.rules).every((r) => r.health === 'ok')).toBe(true);
  });

  it('every query of every Grafana dashboard returns data', async () => {
    const boards = dashboards();
    expect(boards.map((d) => d.uid)).toEqual([
      'agentd-mcp',
      'agentd-overview',
      'agentd-resources',
      'agentd-store',
      'agentd-tasks',
    ]);
    const empty: string[] = [];
    let queries = 0;
    for (const board of boards) {
      for (const panel of allPanels(board.panels)) {
        for (const target of panel.targets ?? []) {
          queries++;
          const promql = concrete(target.expr);
          const result = await prom.query(promql);
          if (result.length === 0) empty.push(`${board.uid} / ${panel.title}: ${promql}`);
        }
      }
      // Template variables: label_values(selector, label) finds values.
      for (const v of board.templating.list) {
        const m = /^label_values\((.*),\s*(\w+)\)$/.exec(v.definition);
        expect(m, `${board.uid} variable ${v.name}`).not.toBeNull();
        const [, selector, label] = m as RegExpExecArray;
        const series = await prom.query(`count by (${label}) (${concrete(selector as string)})`);
        if (series.length === 0) empty.push(`${board.uid} variable ${v.name}: ${v.definition}`);
      }
    }
    expect(queries).toBeGreaterThan(50);
    expect(empty).toEqual([]);
  });

  it('every metric a dashboard query names has series, so an `or` fallback cannot hide a misspelled one', async () => {
    // `x or vector(0)` (or `... or y * 0`) returns data whatever `x` names: the check above
    // proves nothing for those. Each metric a query names must have series (the traffic
    // above leaves one for every metric the dashboards show, a rate-limit refusal included).
    const named: Array<{ where: string; name: string }> = [];
    const nameless: string[] = [];
    let fallbacks = 0;
    for (const board of dashboards()) {
      for (const panel of allPanels(board.panels)) {
        for (const target of panel.targets ?? []) {
          if (/\bor\b/.test(target.expr)) fallbacks++;
          const names = metricNames(target.expr);
          if (names.length === 0) nameless.push(`${board.uid} / ${panel.title}: ${target.expr}`);
          for (const name of names) named.push({ where: `${board.uid} / ${panel.title}`, name });
        }
      }
    }
    const missing = async (): Promise<string[]> => {
      const res = await fetch(`${prom.url}/api/v1/label/__name__/values`);
      const withSeries = new Set(((await res.json()) as { data: string[] }).data);
      return named.filter((n) => !withSeries.has(n.name)).map((n) => `${n.where}: ${n.name}`);
    };
    // Polled: the last traffic may not be scraped yet. A misspelled name stays missing.
    let unknown: string[] = [];
    await prom
      .until('a series for every metric the dashboards name', async () => {
        unknown = await missing();
        return unknown.length === 0 ? true : undefined;
      })
      .catch(() => undefined);
    expect(nameless).toEqual([]);
    // The dashboards have queries with a fallback (so this test has something to prove).
    expect(fallbacks).toBeGreaterThanOrEqual(5);
    expect(unknown).toEqual([]);
  });
});
