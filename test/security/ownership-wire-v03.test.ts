/**
 * Task ownership for v0.3 clients (the SDK's compat transports over JSON-RPC, REST and gRPC):
 * another principal's task answers TASK_NOT_FOUND for every v0.3 operation, exactly as a task
 * that does not exist does — the same error, message and HTTP answer — while its owner and
 * the admin reach it through the same transports.
 */
import { randomUUID } from 'node:crypto';
import { TaskState } from '@a2a-js/sdk';
import { LegacyJsonRpcTransport, LegacyRestTransport } from '@a2a-js/sdk/compat/v0_3/client';
import { LegacyGrpcTransport } from '@a2a-js/sdk/compat/v0_3/client/grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeTransport, RawGrpcClient } from '../helpers/grpc.js';
import { messageRequest, pushConfig } from '../helpers/interop.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { HOOK_URL, type Caller, type Target } from './ownership-wire-ops.js';
import { addHook, createTask } from './ownership-wire-tasks.js';

type Legacy = LegacyJsonRpcTransport | LegacyRestTransport | LegacyGrpcTransport;
type Kind = 'jsonrpc' | 'rest' | 'grpc';

let ts: TestServer;
let target: Target;
let raw: RawGrpcClient;
let alice: Caller;
/** The last non-streaming HTTP answer a v0.3 transport got (status and body). */
let lastHttp: { status: number; body: string } | undefined;
const grpcTransports: LegacyGrpcTransport[] = [];

beforeAll(async () => {
  ts = await startServer({
    agents: [{ name: 'countdown', kind: 'countdown', stepMs: 100, default: true }],
    auth: {
      apiKeys: [
        { key: 'alice-key-0123456789', principal: 'alice', scopes: [] },
        { key: 'bob-key-0123456789', principal: 'bob', scopes: [] },
        { key: 'admin-key-0123456789', principal: 'ops', scopes: ['agentd:admin'] },
      ],
    },
  });
  target = { url: ts.url, agent: 'countdown' };
  raw = new RawGrpcClient(ts.server.grpcAddress as string);
  alice = { name: 'alice', headers: { 'x-api-key': 'alice-key-0123456789' }, fetch, grpc: raw };
});
afterAll(async () => {
  for (const t of grpcTransports) closeTransport(t);
  raw?.close();
  await ts?.close();
});

async function recordingFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const res = await fetch(input, init);
  lastHttp = undefined;
  if (!(res.headers.get('content-type') ?? '').includes('text/event-stream'))
    lastHttp = { status: res.status, body: await res.clone().text() };
  return res;
}

function transport(kind: Kind): Legacy {
  if (kind === 'jsonrpc')
    return new LegacyJsonRpcTransport({ endpoint: ts.agentUrl('countdown'), fetchImpl: recordingFetch });
  if (kind === 'rest')
    return new LegacyRestTransport({
      endpoint: `${ts.agentUrl('countdown')}rest`,
      fetchImpl: recordingFetch,
    });
  const t = new LegacyGrpcTransport({ endpoint: ts.server.grpcAddress as string });
  grpcTransports.push(t);
  return t;
}

const as = (key: string) => ({ serviceParameters: { 'x-api-key': key } });
const BOB = as('bob-key-0123456789');

async function drain(stream: AsyncGenerator<unknown>): Promise<void> {
  for await (const _ of stream) break;
}

/** Each v0.3 operation on task `id` as bob. */
const OPERATIONS: Array<[string, (t: Legacy, id: string) => Promise<unknown>]> = [
  ['tasks/get', (t, id) => t.getTask({ tenant: '', id, historyLength: undefined }, BOB)],
  ['tasks/cancel', (t, id) => t.cancelTask({ tenant: '', id, metadata: undefined }, BOB)],
  ['tasks/resubscribe', (t, id) => drain(t.resubscribeTask({ tenant: '', id }, BOB))],
  [
    'tasks/pushNotificationConfig/set',
    (t, id) => t.createTaskPushNotificationConfig(pushConfig({ taskId: id, id: 'hook', url: HOOK_URL }), BOB),
  ],
  [
    'tasks/pushNotificationConfig/get',
    (t, id) => t.getTaskPushNotificationConfig({ tenant: '', taskId: id, id: 'hook' }, BOB),
  ],
  [
    'tasks/pushNotificationConfig/list',
    (t, id) => t.listTaskPushNotificationConfig({ tenant: '', taskId: id, pageSize: 0, pageToken: '' }, BOB),
  ],
  [
    'tasks/pushNotificationConfig/delete',
    (t, id) => t.deleteTaskPushNotificationConfig({ tenant: '', taskId: id, id: 'hook' }, BOB),
  ],
  ['message/send (follow-up)', (t, id) => t.sendMessage(messageRequest('more', { taskId: id }), BOB)],
  [
    'message/stream (follow-up)',
    (t, id) => drain(t.sendMessageStream(messageRequest('more', { taskId: id }), BOB)),
  ],
];

/** What the caller observes of a failed call: the error, and the HTTP answer behind it; the id blanked. */
async function observed(call: Promise<unknown>, id: string): Promise<Record<string, unknown>> {
  lastHttp = undefined;
  let caught: unknown;
  try {
    await call;
  } catch (error) {
    caught = error;
  }
  expect(caught, 'expected the call to fail').toBeInstanceOf(Error);
  const e = caught as Error;
  // Own properties with plain values (code, status...); a gRPC error's metadata is compared through its message.
  const props = Object.fromEntries(
    Object.entries(e).filter(([, v]) => typeof v === 'string' || typeof v === 'number'),
  );
  // (Read through a cast: the transport set it while `call` ran, which narrowing cannot see.)
  const answer = lastHttp as { status: number; body: string } | undefined;
  const http = answer ? { status: answer.status, body: withoutRpcId(answer.body) } : null;
  const blank = (s: string): string => s.split(id).join('<id>');
  return JSON.parse(blank(JSON.stringify({ name: e.name, message: e.message, props, http }))) as Record<
    string,
    unknown
  >;
}

/** An HTTP body with a JSON-RPC response's `id` (the transport's own request counter) left out. */
function withoutRpcId(body: string): unknown {
  try {
    const json = JSON.parse(body) as Record<string, unknown>;
    if (json.jsonrpc === '2.0') delete json.id;
    return json;
  } catch {
    return body;
  }
}

describe.each(['jsonrpc', 'rest', 'grpc'] as const)('v0.3 over %s', (kind) => {
  it('another principal gets TASK_NOT_FOUND for every operation, exactly like a task that does not exist', async () => {
    const task = await createTask('jsonrpc', target, alice, 'count to 1000');
    await addHook('jsonrpc', target, alice, task.id);
    const t = transport(kind);
    for (const [name, op] of OPERATIONS) {
      const refused = await observed(op(t, task.id), task.id);
      const ghost = randomUUID();
      expect(refused, name).toEqual(await observed(op(t, ghost), ghost));
      expect(`${String(refused.name)} ${String(refused.message)}`, name).toMatch(/TaskNotFound|not found/i);
    }
    // The owner reads it, with its push config, over the same transport; the admin cancels it.
    const own = await t.getTask(
      { tenant: '', id: task.id, historyLength: undefined },
      as('alice-key-0123456789'),
    );
    expect(own.status?.state).toBe(TaskState.TASK_STATE_WORKING);
    const hooks = await t.listTaskPushNotificationConfig(
      { tenant: '', taskId: task.id, pageSize: 0, pageToken: '' },
      as('alice-key-0123456789'),
    );
    expect(hooks.configs.map((c) => c.id)).toEqual(['hook']);
    const canceled = await t.cancelTask(
      { tenant: '', id: task.id, metadata: undefined },
      as('admin-key-0123456789'),
    );
    expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
  });
});
