/**
 * `/metrics` on its own listener: after driving every path (JSON-RPC, HTTP+JSON and gRPC
 * calls, streams, errors, discovery, push delivery, a failing agent, feedback), each of
 * the standard metrics has moved, with bounded labels only, and the exposition passes
 * `promtool check metrics` (Debian's `prometheus` package, installed like redis-server).
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { MCP_TOOL_BUCKETS } from '../../src/observability/metrics.js';
import { ensureDebianTool } from '../helpers/debian-tool.js';
import { closeSdkClient } from '../helpers/grpc.js';
import { clientFor, sendRequest, userMessage } from '../helpers/sdk-client.js';
import { DEMO_AGENTS, eventually, startServer, type TestServer } from '../helpers/server.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import { messageJson, rest, rpc } from '../helpers/wire.js';

/** One sample of the exposition: name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] as string] = l[2] as string;
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return samples;
}

describe('Prometheus metrics', () => {
  let t: TestServer;
  let webhook: WebhookReceiver;
  let exposition = '';
  let samples: Sample[] = [];
  const taskIds: string[] = [];

  const value = (name: string, labels: Record<string, string> = {}): number =>
    samples
      .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .reduce((sum, s) => sum + s.value, 0);

  beforeAll(async () => {
    webhook = await startWebhookReceiver();
    t = await startServer({
      agents: [...DEMO_AGENTS, { name: 'boom', kind: 'module', module: 'test/fixtures/throwing-agent.mjs' }],
      // The webhook receiver listens on loopback, which webhooks may reach only when allowed.
      push: { allow: ['127.0.0.1'] },
    });
    const metricsUrl = `http://${t.server.metricsAddress}/metrics`;

    // JSON-RPC: a completed echo, with feedback; a bad request; an unknown task.
    const jsonrpc = await clientFor(t.agentUrl('echo'));
    const echoed = await jsonrpc.sendMessage(sendRequest('hello metrics'));
    if ('status' in echoed) taskIds.push(echoed.id);
    await jsonrpc.sendMessage({
      ...sendRequest('thanks'),
      message: userMessage('thanks', { metadata: { feedback: { satisfaction: 4 } } }),
    });
    await jsonrpc.sendMessage({
      ...sendRequest('meh'),
      message: userMessage('meh', { metadata: { feedback: { satisfaction: 2 } } }),
    });
    await rpc(t.url, 'echo', 'SendMessage', { message: { role: 'ROLE_USER' } }); // invalid params
    await rpc(t.url, 'echo', 'GetTask', { id: 'no-such-task-0d3f' }); // task not found
    // HTTP+JSON: get the echo task by id (the id is in the URL, never in a label).
    await rest(t.url, 'echo', 'GET', `/tasks/${taskIds[0]}`);
    // A streamed countdown, and one canceled while it works.
    const countdown = await clientFor(t.agentUrl('countdown'));
    for await (const _ of countdown.sendMessageStream(sendRequest('count to 3'))) void _;
    const long = await countdown.sendMessage(sendRequest('count to 500', { returnImmediately: true }));
    if ('status' in long) {
      taskIds.push(long.id);
      await countdown.cancelTask({ tenant: '', id: long.id, metadata: undefined });
    }
    // A failing agent.
    const boom = await clientFor(t.agentUrl('boom'));
    await boom.sendMessage(sendRequest('explode'));
    // gRPC.
    const grpc = await clientFor(t.agentUrl('echo'), 'GRPC');
    await grpc.sendMessage(sendRequest('over grpc'));
    closeSdkClient(grpc);
    // Push notifications to a webhook.
    const pushed = await rpc(t.url, 'countdown', 'SendMessage', {
      message: messageJson('count to 2'),
      configuration: { taskPushNotificationConfig: { url: webhook.url, token: 'secret-token' } },
    });
    expect(pushed.json.result.task.status.state).toBe('TASK_STATE_COMPLETED');
    await webhook.waitFor((r) => JSON.stringify(r.body).includes('TASK_STATE_COMPLETED'));
    // Discovery: a known capability, and a string no agent has.
    await fetch(`${t.url}/api/v1/agents?capability=echo`);
    await fetch(`${t.url}/api/v1/agents?capability=user-supplied-${Date.now()}`);

    // A canceled run ends just after the cancel answers: let every run finish first.
    await eventually(() => t.server.stats().running === 0, 5000, 'no task executing');
    exposition = await (await fetch(metricsUrl)).text();
    samples = parseExposition(exposition);
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await webhook?.close();
  });

  it('serves the text format on its own port, and only /metrics there', async () => {
    const res = await fetch(`http://${t.server.metricsAddress}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect((await fetch(`http://${t.server.metricsAddress}/other`)).status).toBe(404);
    // The A2A port does not serve it: the listeners are separate.
    expect((await fetch(`${t.url}/metrics`)).status).toBe(404);
  });

  it('agent_info says service, version and environment', () => {
    expect(samples.find((s) => s.name === 'agent_info')?.labels).toEqual({
      service: 'agentd',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      environment: 'production',
    });
  });

  it('http_requests_total and http_request_duration_seconds count every request by route template', () => {
    expect(
      value('http_requests_total', { method: 'POST', endpoint: '/a2a/:agent', status_code: '200' }),
    ).toBeGreaterThanOrEqual(5);
    expect(
      value('http_requests_total', {
        method: 'GET',
        endpoint: '/a2a/:agent/rest/tasks/{id}',
        status_code: '200',
      }),
    ).toBe(1);
    expect(value('http_requests_total', { endpoint: '/api/v1/agents' })).toBe(2);
    expect(
      value('http_request_duration_seconds_count', { method: 'POST', endpoint: '/a2a/:agent' }),
    ).toBeGreaterThanOrEqual(5);
    const buckets = samples
      .filter(
        (s) => s.name === 'http_request_duration_seconds_bucket' && s.labels.endpoint === '/api/v1/agents',
      )
      .map((s) => s.labels.le);
    expect(buckets).toEqual(['0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf']);
  });

  it('workflow_executions_total, workflow_duration_seconds and active_workflows follow the tasks', () => {
    expect(
      value('workflow_executions_total', { workflow_type: 'echo', status: 'started' }),
    ).toBeGreaterThanOrEqual(4);
    expect(
      value('workflow_executions_total', { workflow_type: 'echo', status: 'completed' }),
    ).toBeGreaterThanOrEqual(4);
    expect(value('workflow_executions_total', { workflow_type: 'countdown', status: 'canceled' })).toBe(1);
    expect(value('workflow_executions_total', { workflow_type: 'boom', status: 'failed' })).toBe(1);
    expect(value('workflow_duration_seconds_count', { workflow_type: 'echo' })).toBeGreaterThanOrEqual(4);
    expect(
      samples
        .filter((s) => s.name === 'workflow_duration_seconds_bucket' && s.labels.workflow_type === 'echo')
        .map((s) => s.labels.le),
    ).toEqual(['1', '5', '10', '30', '60', '300', '600', '1800', '+Inf']);
    expect(samples.find((s) => s.name === 'active_workflows')?.value).toBe(0);
  });

  it('a2a_requests_total and a2a_request_duration_seconds cover every transport, with catalogue codes', () => {
    expect(
      value('a2a_requests_total', { method: 'SendMessage', transport: 'jsonrpc', status: 'ok' }),
    ).toBeGreaterThanOrEqual(4);
    expect(
      value('a2a_requests_total', { method: 'SendMessage', transport: 'jsonrpc', status: 'INVALID_PARAMS' }),
    ).toBe(1);
    expect(
      value('a2a_requests_total', { method: 'GetTask', transport: 'jsonrpc', status: 'TASK_NOT_FOUND' }),
    ).toBe(1);
    expect(value('a2a_requests_total', { method: 'GetTask', transport: 'rest', status: 'ok' })).toBe(1);
    expect(value('a2a_requests_total', { method: 'SendMessage', transport: 'grpc', status: 'ok' })).toBe(1);
    expect(
      value('a2a_requests_total', { method: 'SendStreamingMessage', transport: 'jsonrpc', status: 'ok' }),
    ).toBe(1);
    expect(value('a2a_request_duration_seconds_count', { method: 'SendMessage', transport: 'grpc' })).toBe(1);
    expect(value('a2a_messages_received_total', { message_type: 'SendMessage' })).toBeGreaterThanOrEqual(6);
    expect(
      value('a2a_message_latency_seconds_count', { message_type: 'SendMessage' }),
    ).toBeGreaterThanOrEqual(5);
  });

  it('a2a_messages_sent_total counts push notifications delivered', () => {
    expect(
      value('a2a_messages_sent_total', { message_type: 'push_notification', recipient: 'webhook' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      value('a2a_message_latency_seconds_count', { message_type: 'push_notification' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('errors_total counts the catalogue errors answered and the agent failures', () => {
    expect(value('errors_total', { error_type: 'INVALID_PARAMS', component: 'jsonrpc' })).toBe(1);
    expect(value('errors_total', { error_type: 'TASK_NOT_FOUND', component: 'jsonrpc' })).toBe(1);
    expect(value('errors_total', { error_type: 'AGENT_FAILED', component: 'agent' })).toBe(1);
  });

  it('agent_discovery_requests_total labels only capabilities some agent has', () => {
    expect(value('agent_discovery_requests_total', { capability: 'echo', status: 'found' })).toBe(1);
    expect(value('agent_discovery_requests_total', { capability: 'unknown', status: 'not_found' })).toBe(1);
  });

  it('customer_satisfaction_score is the mean of the feedback scores received', () => {
    expect(value('customer_satisfaction_score')).toBe(3);
  });

  it('the resource gauges, MCP metrics and the process defaults are there', () => {
    expect(value('memory_usage_bytes')).toBeGreaterThan(10_000_000);
    expect(samples.some((s) => s.name === 'cpu_usage_percent')).toBe(true);
    expect(exposition).toContain('# TYPE mcp_tool_calls_total counter');
    expect(exposition).toContain('# TYPE mcp_tool_duration_seconds histogram');
    expect(value('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(value('nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
  });

  it('exposes the queue depth, its configured limit and whether the store answers', () => {
    expect(value('agentd_queue_depth')).toBe(0);
    expect(value('agentd_queue_max_depth')).toBe(
      configSchema.parse({ agents: DEMO_AGENTS }).execution.maxQueueDepth,
    );
    expect(value('agentd_store_up', { store: 'memory' })).toBe(1);
  });

  it('MCP tool latency buckets reach the default MCP call timeout', () => {
    const timeout = configSchema.parse({ agents: DEMO_AGENTS }).mcp.timeoutSeconds;
    expect(MCP_TOOL_BUCKETS.at(-1)).toBeGreaterThanOrEqual(timeout);
    // The MCPToolCallLatency alert threshold (p95 > 10 s) needs finite buckets above it.
    expect(MCP_TOOL_BUCKETS.filter((b) => b > 10).length).toBeGreaterThanOrEqual(2);
  });

  it('no unbounded value becomes a label: no task id, raw URL or user string', () => {
    for (const id of taskIds) expect(exposition).not.toContain(id);
    expect(exposition).not.toContain('no-such-task-0d3f');
    expect(exposition).not.toContain('user-supplied-');
    expect(exposition).not.toMatch(/endpoint="[^"]*\/(tasks\/[0-9a-f-]{36}|a2a\/echo)/);
    expect(exposition).not.toContain('secret-token');
  });

  it('passes promtool check metrics', () => {
    ensureDebianTool('promtool', 'prometheus');
    const res = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
    expect(`${res.stdout}${res.stderr}`.trim()).toBe('');
    expect(res.status).toBe(0);
  });

  it('task states in the labels are lower-case state names', () => {
    const statuses = new Set(
      samples.filter((s) => s.name === 'workflow_executions_total').map((s) => s.labels.status),
    );
    expect(statuses.size).toBeGreaterThanOrEqual(4);
    for (const s of statuses) expect(s).toMatch(/^[a-z_]+$/);
  });
});

describe('monitoring off', () => {
  it('prometheus.enabled: false starts no metrics listener, and A2A still works', async () => {
    const t = await startServer({ prometheus: { enabled: false } });
    try {
      expect(t.server.metricsAddress).toBeUndefined();
      const client = await clientFor(t.agentUrl('echo'));
      const done = await client.sendMessage(sendRequest('unobserved'));
      expect('status' in done && done.status?.state).toBe(3);
    } finally {
      await t.close();
    }
  });
});

describe('v0.3 calls', () => {
  it('are counted under the v1.0 operation they are', async () => {
    const t = await startServer();
    try {
      await rpc(t.url, 'echo', 'message/send', {
        message: {
          kind: 'message',
          messageId: 'v03-m',
          role: 'user',
          parts: [{ kind: 'text', text: 'old client' }],
        },
      });
      const text = await (await fetch(`http://${t.server.metricsAddress}/metrics`)).text();
      expect(text).toContain('a2a_requests_total{method="SendMessage",transport="jsonrpc",status="ok"} 1');
      expect(text).not.toContain('method="unknown"');
    } finally {
      await t.close();
    }
  });
});
