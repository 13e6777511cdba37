/**
 * Distributed tracing across two agentd processes: a client calls agent A (relay) with a
 * `traceparent`; A calls agent B (echo) in another process through `callAgent`. Both
 * export over OTLP/HTTP to a receiver in this test, and the spans form one trace:
 * client → A's server span → A's client span → B's server span.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeWorkDir, spawnAgentd, stopStarted, writeConfig } from '../helpers/agentd-process.js';
import { messageJson, rpc } from '../helpers/wire.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: { stringValue?: string } }>;
  status?: { code?: number };
}

const SERVER = 2;
const CLIENT = 3;

/** A minimal OTLP/HTTP (JSON) trace receiver. */
async function startReceiver(): Promise<{
  url: string;
  spans: OtlpSpan[];
  server: Server;
  waitFor(n: (s: OtlpSpan[]) => boolean): Promise<void>;
}> {
  const spans: OtlpSpan[] = [];
  const waiters: Array<() => void> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const json = JSON.parse(body) as {
        resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }>;
      };
      for (const rs of json.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      for (const w of waiters.splice(0)) w();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    server,
    async waitFor(done) {
      const deadline = Date.now() + 15_000;
      while (!done(spans)) {
        if (Date.now() > deadline)
          throw new Error(`spans did not arrive: ${JSON.stringify(spans.map((s) => s.name))}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 500);
        });
      }
    },
  };
}

describe('tracing across two agentd processes', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let aUrl: string;
  let bUrl: string;

  beforeAll(async () => {
    receiver = await startReceiver();
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '50' };
    const common = {
      server: { host: '127.0.0.1', grpcPort: 0 },
      prometheus: { port: 0 },
      logging: { level: 'info' },
    };
    const b = spawnAgentd(
      [
        'serve',
        '--config',
        writeConfig('b.yaml', JSON.stringify({ ...common, agents: [{ name: 'echo', kind: 'echo' }] })),
        '--port',
        '0',
      ],
      env,
    );
    const relay = resolve(import.meta.dirname, '../fixtures/relay-agent.mjs');
    // A's workflow has a step on B: A's config is written once B's URL is known.
    bUrl = await b.url;
    const a = spawnAgentd(
      [
        'serve',
        '--config',
        writeConfig(
          'a.yaml',
          JSON.stringify({
            ...common,
            agents: [
              { name: 'relay', kind: 'module', module: relay, export: 'RelayAgent' },
              { name: 'echo', kind: 'echo' },
              {
                name: 'pipeline',
                kind: 'workflow',
                steps: [
                  { id: 'here', agent: 'echo', input: 'here {{ input }}' },
                  {
                    id: 'there',
                    url: `${bUrl}/a2a/echo/`,
                    needs: ['here'],
                    input: '{{ steps.here.output }} there',
                  },
                ],
              },
            ],
          }),
        ),
        '--port',
        '0',
      ],
      env,
    );
    aUrl = await a.url;
  }, 60_000);

  afterAll(async () => {
    stopStarted();
    removeWorkDir();
    await new Promise((r) => receiver?.server.close(r));
  });

  it('a call from agent A to agent B is one trace with correct parent links', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const clientSpan = '00f067aa0ba902b7';
    const res = await rpc(
      aUrl,
      'relay',
      'SendMessage',
      { message: messageJson(`relay ${bUrl}/a2a/echo/ hello across processes`) },
      { traceparent: `00-${traceId}-${clientSpan}-01` },
    );
    expect(res.json.result.task.status.state).toBe('TASK_STATE_COMPLETED');
    expect(res.json.result.task.artifacts[0].parts[0].text).toBe('hello across processes');

    const inTrace = (s: OtlpSpan[]): OtlpSpan[] => s.filter((x) => x.traceId === traceId);
    await receiver.waitFor((s) => inTrace(s).length >= 3);
    const spans = inTrace(receiver.spans);
    const aServer = spans.find((s) => s.kind === SERVER && s.parentSpanId === clientSpan);
    expect(aServer?.name).toBe('A2A SendMessage');
    const aClient = spans.find((s) => s.kind === CLIENT && s.parentSpanId === aServer?.spanId);
    expect(aClient?.name).toBe('A2A SendMessage');
    expect(aClient?.attributes.find((a) => a.key === 'a2a.recipient')?.value.stringValue).toBe('echo');
    const bServer = spans.find((s) => s.kind === SERVER && s.parentSpanId === aClient?.spanId);
    expect(bServer?.name).toBe('A2A SendMessage');
    expect(bServer?.attributes.find((a) => a.key === 'a2a.transport')?.value.stringValue).toBe('jsonrpc');
    // Three different spans, none failed.
    expect(new Set([aServer?.spanId, aClient?.spanId, bServer?.spanId]).size).toBe(3);
    for (const s of [aServer, aClient, bServer]) expect(s?.status?.code ?? 0).not.toBe(2);
  });

  it('over gRPC too: the traceparent travels in the call metadata', async () => {
    const traceId = '5bf92f3577b34da6a3ce929d0e0e4737';
    const clientSpan = '10f067aa0ba902b8';
    const res = await rpc(
      aUrl,
      'relay',
      'SendMessage',
      { message: messageJson(`relay-grpc ${bUrl}/a2a/echo/ hello over grpc`) },
      { traceparent: `00-${traceId}-${clientSpan}-01` },
    );
    expect(res.json.result.task.artifacts[0].parts[0].text).toBe('hello over grpc');
    await receiver.waitFor((s) => s.filter((x) => x.traceId === traceId).length >= 3);
    const spans = receiver.spans.filter((x) => x.traceId === traceId);
    const aServer = spans.find((s) => s.kind === SERVER && s.parentSpanId === clientSpan);
    const aClient = spans.find((s) => s.kind === CLIENT && s.parentSpanId === aServer?.spanId);
    const bServer = spans.find((s) => s.kind === SERVER && s.parentSpanId === aClient?.spanId);
    expect(aClient?.attributes.find((a) => a.key === 'a2a.transport')?.value.stringValue).toBe('grpc');
    expect(bServer?.attributes.find((a) => a.key === 'a2a.transport')?.value.stringValue).toBe('grpc');
  });

  it('a workflow is one trace: a span per step, the remote step’s call and the other process’s work inside it', async () => {
    const traceId = '6bf92f3577b34da6a3ce929d0e0e4738';
    const clientSpan = '20f067aa0ba902b9';
    const res = await rpc(
      aUrl,
      'pipeline',
      'SendMessage',
      { message: messageJson('trace me') },
      { traceparent: `00-${traceId}-${clientSpan}-01` },
    );
    expect(res.json.result.task.status.state).toBe('TASK_STATE_COMPLETED');
    expect(res.json.result.task.artifacts[0].parts[0].text).toBe('here trace me there');
    const inTrace = (s: OtlpSpan[]): OtlpSpan[] => s.filter((x) => x.traceId === traceId);
    await receiver.waitFor((s) => inTrace(s).length >= 5);
    const spans = inTrace(receiver.spans);
    const aServer = spans.find((s) => s.kind === SERVER && s.parentSpanId === clientSpan);
    const here = spans.find((s) => s.name === 'workflow step here');
    const there = spans.find((s) => s.name === 'workflow step there');
    expect(here?.parentSpanId).toBe(aServer?.spanId);
    expect(there?.parentSpanId).toBe(aServer?.spanId);
    expect(there?.attributes.find((a) => a.key === 'agentd.workflow')?.value.stringValue).toBe('pipeline');
    // A remote step streams the other agent's events (SendStreamingMessage).
    const call = spans.find((s) => s.kind === CLIENT && s.parentSpanId === there?.spanId);
    expect(call?.name).toBe('A2A SendStreamingMessage');
    const onB = spans.find((s) => s.kind === SERVER && s.parentSpanId === call?.spanId);
    expect(onB).toBeDefined();
  });
});
