/**
 * Protocol fuzzing: generated hostile inputs on all three bindings against one real server,
 * while a well-formed streaming task runs beside them. Properties: no input gets a 5xx (or,
 * on gRPC, INTERNAL/UNKNOWN); every error is its binding's shape from the catalogue; the
 * task completes; `/metrics`, ListTasks and `/ready` answer 200 afterwards.
 *
 * Inputs are sampled with fast-check from a fixed seed and sent a few at a time (so a CI run
 * is ~20,000 inputs in well under 90 s). Knobs: FUZZ_SEED, FUZZ_RUNS (total inputs).
 * Generated JSON goes to 20 levels; a separate generator nests values 25 to 1,000 levels deep
 * (past the 32-level limit on metadata and data values, which must be INVALID_PARAMS).
 */
import * as grpc from '@grpc/grpc-js';
import { A2AService } from '@a2a-js/sdk/server/grpc';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawGrpcClient } from '../helpers/grpc.js';
import { startServer, type TestServer } from '../helpers/server.js';
import {
  ERROR_INFO_TYPE,
  eventState,
  messageJson,
  readResponse,
  rpcStream,
  type SseReader,
} from '../helpers/wire.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_802);
const TOTAL = Number(process.env.FUZZ_RUNS ?? 20_000);
const RUNS = { jsonrpc: Math.ceil(TOTAL * 0.4), rest: Math.ceil(TOTAL * 0.4), grpc: Math.ceil(TOTAL * 0.2) };
const CONCURRENCY = 16;
const counted = { jsonrpc: 0, rest: 0, grpc: 0 };

let t: TestServer;
let raw: RawGrpcClient;
let task: SseReader;
beforeAll(async () => {
  t = await startServer({ logging: { level: 'warn' } });
  raw = new RawGrpcClient(t.server.grpcAddress as string);
  // The well-formed task that must complete while the fuzzers run.
  task = await rpcStream(t.url, 'countdown', 'SendStreamingMessage', {
    message: messageJson('count to 200'),
  });
});
afterAll(async () => {
  raw?.close();
  await t?.close();
  console.warn(`protocol fuzz: ${JSON.stringify(counted)} inputs (seed ${SEED})`);
});

/** Runs `check` on every input, `CONCURRENCY` at a time; fails with the first failing input. */
async function runAll<T>(inputs: T[], check: (input: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < inputs.length) {
      const input = inputs[next++] as T;
      try {
        await check(input);
      } catch (error) {
        throw new Error(`input ${JSON.stringify(input)?.slice(0, 2000)}: ${(error as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

// ------------------------------------------------------------------ generators

const PROTO_NAMES = ['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty', 'prototype'];
const METHODS = [
  'SendMessage',
  'GetTask',
  'ListTasks',
  'CancelTask',
  'GetTaskPushNotificationConfig',
  'ListTaskPushNotificationConfigs',
  'DeleteTaskPushNotificationConfig',
  'CreateTaskPushNotificationConfig',
  'GetExtendedAgentCard',
  'message/send',
  'tasks/get',
  'tasks/cancel',
  'tasks/resubscribe',
  'tasks/pushNotificationConfig/get',
  ...PROTO_NAMES,
  ...PROTO_NAMES.map((n) => `tasks/${n}`),
];
const hostileId = fc.oneof(
  fc.constantFrom(
    '..',
    '%2e%2e',
    '%00',
    '\u0000',
    '../../etc/passwd',
    '',
    ' ',
    'a'.repeat(2000),
    ...PROTO_NAMES,
  ),
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.constant(null),
  fc.boolean(),
);
const json = fc.jsonValue({ maxDepth: 20, depthSize: 'small' });
/** Objects nested past the server's depth limit (JSON.stringify itself overflows near 4,500). */
const deep = fc.integer({ min: 25, max: 1000 }).map((depth) => {
  let v: unknown = { leaf: true };
  for (let i = 0; i < depth; i++) v = { n: v };
  return v;
});
const value = fc.oneof(
  { arbitrary: hostileId, weight: 4 },
  { arbitrary: json, weight: 4 },
  { arbitrary: deep, weight: 1 },
);
const messageArb = fc.oneof(
  fc.record(
    {
      messageId: value,
      role: fc.oneof(fc.constantFrom('ROLE_USER', 'ROLE_AGENT', 'user', 'x'), value),
      parts: fc.oneof(
        fc.array(fc.oneof(fc.record({ text: value }), fc.record({ data: json }), json), { maxLength: 3 }),
        value,
      ),
      taskId: value,
      contextId: value,
      metadata: value,
    },
    { requiredKeys: [] },
  ),
  value,
);
const paramsArb = fc.oneof(
  fc.record(
    {
      id: value,
      message: messageArb,
      historyLength: value,
      pageSize: value,
      status: value,
      tenant: value,
      taskId: value,
      configuration: fc.oneof(fc.record({ returnImmediately: value, historyLength: value }), value),
      metadata: value,
      pushNotificationConfigId: value,
    },
    { requiredKeys: [] },
  ),
  value,
);
const envelope = fc.record(
  {
    jsonrpc: fc.oneof(fc.constant('2.0'), value),
    id: fc.oneof(fc.integer(), fc.string({ maxLength: 10 }), fc.constant(null), json),
    method: fc.oneof(fc.constantFrom(...METHODS), value),
    params: paramsArb,
  },
  { requiredKeys: ['jsonrpc', 'method'] },
);
const contentType = fc.constantFrom(
  'application/json',
  'application/json',
  'application/a2a+json',
  'text/plain',
  '',
  'application/json; charset=utf-16',
  '*/*',
);
const bodyArb = fc.oneof(
  envelope.map((e) => JSON.stringify(e)),
  envelope.chain((e) => {
    const text = JSON.stringify(e);
    return fc.nat(text.length).map((n) => text.slice(0, n));
  }),
  fc.array(envelope, { maxLength: 3 }).map((b) => JSON.stringify(b)),
  fc.string({ maxLength: 200 }),
  json.map((j) => JSON.stringify(j)),
);

// ------------------------------------------------------------------ shape checks

function expectErrorInfo(info: unknown): void {
  expect(info).toMatchObject({ '@type': ERROR_INFO_TYPE, domain: 'a2a-protocol.org' });
  expect(typeof (info as { reason: unknown }).reason).toBe('string');
}

function expectRpcShape(body: Record<string, unknown>, v03: boolean): void {
  expect(body.jsonrpc).toBe('2.0');
  if ('result' in body) return;
  const error = body.error as { code: unknown; message: unknown; data?: unknown[] };
  expect(Number.isInteger(error.code)).toBe(true);
  expect(typeof error.message).toBe('string');
  // The v0.3 compat layer answers in v0.3's shape, which has no ErrorInfo.
  if (!v03) expectErrorInfo(error.data?.[0]);
}

function expectRestShape(status: number, body: Record<string, unknown>): void {
  expect(Object.keys(body)).toEqual(['error']);
  const error = body.error as Record<string, unknown>;
  expect(error.code).toBe(status);
  expect(typeof error.status).toBe('string');
  expect(typeof error.message).toBe('string');
  expectErrorInfo((error.details as unknown[])[0]);
}

// ------------------------------------------------------------------ properties

describe('protocol fuzz', () => {
  it(`JSON-RPC: ${RUNS.jsonrpc} hostile bodies`, async () => {
    const inputs = fc.sample(fc.record({ body: bodyArb, type: contentType, v03: fc.boolean() }), {
      seed: SEED,
      numRuns: RUNS.jsonrpc,
    });
    await runAll(inputs, async ({ body, type, v03 }) => {
      const headers: Record<string, string> = type ? { 'content-type': type } : {};
      if (v03) headers['a2a-version'] = '0.3';
      const res = await fetch(`${t.url}/a2a/echo/`, { method: 'POST', headers, body });
      counted.jsonrpc++;
      const text = await res.text();
      expect(res.status, text).toBeLessThan(500);
      if (res.headers.get('content-type')?.startsWith('text/event-stream')) return;
      const parsed = JSON.parse(text) as Record<string, unknown>;
      const method = /"method":"([^"]*)"/.exec(body)?.[1] ?? '';
      expectRpcShape(parsed, (v03 || method.includes('/')) && typeof parsed.id !== 'undefined');
    });
  }, 120_000);

  it(`HTTP+JSON: ${RUNS.rest} hostile requests`, async () => {
    const segment = hostileId.map((s) => (typeof s === 'string' ? s : String(s)));
    const request = fc.record({
      method: fc.constantFrom('GET', 'POST', 'DELETE', 'PUT'),
      path: fc.oneof(
        fc.constantFrom('/message:send', '/tasks', '/extendedAgentCard'),
        segment.map((id) => `/tasks/${id}`),
        segment.map((id) => `/tasks/${encodeURIComponent(id)}:cancel`),
        segment.map((id) => `/tasks/${id}/pushNotificationConfigs`),
        fc
          .tuple(segment, segment)
          .map(([tenant, id]) => `/${encodeURIComponent(tenant)}/tasks/${encodeURIComponent(id)}`),
      ),
      query: fc.array(
        fc.tuple(
          fc.constantFrom(
            'historyLength',
            'pageSize',
            'status',
            'includeArtifacts',
            'contextId',
            'pageToken',
            'A2A-Version',
            ...PROTO_NAMES,
          ),
          segment,
        ),
        { maxLength: 4 },
      ),
      body: fc.option(
        fc.oneof(
          bodyArb,
          fc.record({ message: messageArb }).map((b) => JSON.stringify(b)),
        ),
        { nil: undefined },
      ),
      type: contentType,
    });
    const inputs = fc.sample(request, { seed: SEED + 1, numRuns: RUNS.rest });
    await runAll(inputs, async (r) => {
      const qs = r.query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
      const headers: Record<string, string> = r.type ? { 'content-type': r.type } : {};
      const res = await fetch(`${t.url}/a2a/echo/rest${r.path}${qs ? `?${qs}` : ''}`, {
        method: r.method,
        headers,
        ...(r.body !== undefined && r.method !== 'GET' ? { body: r.body } : {}),
      });
      counted.rest++;
      const got = await readResponse(res);
      expect(got.status, got.text).toBeLessThan(500);
      if (got.status >= 400) expectRestShape(got.status, got.json);
    });
  }, 120_000);

  it(`gRPC: ${RUNS.grpc} random protobuf bytes`, async () => {
    const methods = Object.values(A2AService);
    const inputs = fc.sample(
      fc.record({ method: fc.nat(methods.length - 1), bytes: fc.uint8Array({ maxLength: 256 }) }),
      { seed: SEED + 2, numRuns: RUNS.grpc },
    );
    const identity = (b: Buffer): Buffer => b;
    await runAll(inputs, async ({ method, bytes }) => {
      const def = methods[method] as (typeof methods)[number];
      const status = await new Promise<grpc.StatusObject>((resolve) => {
        const deadline = { deadline: Date.now() + 5000 };
        if (def.responseStream) {
          const call = raw.client.makeServerStreamRequest(
            def.path,
            identity,
            identity,
            Buffer.from(bytes),
            new grpc.Metadata(),
            deadline,
          );
          call.on('data', () => call.cancel());
          call.on('error', () => undefined);
          call.on('status', resolve);
        } else {
          const call = raw.client.makeUnaryRequest(
            def.path,
            identity,
            identity,
            Buffer.from(bytes),
            new grpc.Metadata(),
            deadline,
            () => undefined,
          );
          call.on('status', resolve);
        }
      });
      counted.grpc++;
      expect(
        [grpc.status.INTERNAL, grpc.status.UNKNOWN],
        `${grpc.status[status.code]} ${status.details}`,
      ).not.toContain(status.code);
      if (status.code !== grpc.status.OK && status.code !== grpc.status.CANCELLED)
        expect(status.metadata.get('grpc-status-details-bin'), status.details).toHaveLength(1);
    });
  }, 120_000);

  it('the concurrent task completed, and /metrics, ListTasks and /ready answer 200', async () => {
    const states = (await task.rest()).map(eventState);
    expect(states.at(-1)).toBe('TASK_STATE_COMPLETED');
    expect((await fetch(`http://${t.server.metricsAddress}/metrics`)).status).toBe(200);
    expect((await fetch(`${t.url}/a2a/echo/rest/tasks?pageSize=10`)).status).toBe(200);
    expect((await fetch(`${t.url}/ready`)).status).toBe(200);
    expect(counted.jsonrpc + counted.rest + counted.grpc).toBe(RUNS.jsonrpc + RUNS.rest + RUNS.grpc);
  }, 30_000);
});
