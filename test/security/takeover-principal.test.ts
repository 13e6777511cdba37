/**
 * The caller of a task is on its executor's call context on whichever replica runs it: a
 * task queued while its replica was busy and taken by another, one taken over after its
 * replica lost Redis, and one handed back by a drain all give the agent the SDK `User` and
 * agentd principal of the client that sent the message — not an anonymous caller. A task
 * queued without the caller recorded (an older replica) runs as its owner with no scopes.
 */
import { TaskState } from '@a2a-js/sdk';
import type { Task } from '@a2a-js/sdk';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queuedPayload } from '../../src/engine/queued-request.js';
import { ANONYMOUS, type Principal } from '../../src/security/principal.js';
import {
  MAX_RECORDED_SCOPES,
  principalFromRecord,
  principalRecord,
} from '../../src/security/principal-record.js';
import { messageRequest } from '../helpers/interop.js';
import { startRedis, type RedisProcess } from '../helpers/redis-server.js';
import { eventually, startServer, type TestServer } from '../helpers/server.js';
import { messageJson, rpc, type Json } from '../helpers/wire.js';
import { hsToken } from './issuer.js';
import { as } from './principals.js';

const FIXTURE = resolve('test/fixtures/caller-agent.mjs');
const SECRET = 'a-shared-secret-for-takeover-principal-tests';
const ALICE = { 'x-api-key': 'alice-key' };
const ROOT = { 'x-api-key': 'root-key' };

async function bearer(sub: string, scope: string): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await hsToken(SECRET, { sub, scope })}` };
}

/** What the agent reported about its caller (see test/fixtures/caller-agent.mjs). */
interface Report {
  replica: string;
  attempt: number;
  user: { userName: string; isAuthenticated: boolean } | null;
  principal: { id: string; scheme: string; scopes: string[]; admin: boolean } | null;
}

function reportOf(task: Json): Report {
  expect(task?.status?.state).toBe('TASK_STATE_COMPLETED');
  return JSON.parse(String(task.artifacts?.[0]?.parts?.[0]?.text)) as Report;
}

function config(replica: string, store: Record<string, unknown>, execution: Record<string, unknown>) {
  return {
    agents: [
      {
        name: 'caller',
        kind: 'module',
        module: FIXTURE,
        export: 'CallerAgent',
        default: true,
        scopes: ['who:ask'],
        options: { replica },
      },
    ],
    auth: {
      apiKeys: [
        { key: 'alice-key', principal: 'alice', scopes: ['who:ask', 'reports:read'] },
        { key: 'root-key', principal: 'root', scopes: ['who:ask', 'agentd:admin'] },
      ],
      jwt: { secret: SECRET },
    },
    execution: { maxConcurrentWorkflows: 1, ...execution },
    store,
  };
}

/** SendMessage over JSON-RPC; the task it answers with. */
async function send(
  server: TestServer,
  text: string,
  headers: Record<string, string>,
  returnImmediately = false,
): Promise<Json> {
  const res = await rpc(
    server.url,
    'caller',
    'SendMessage',
    { message: messageJson(text), configuration: { returnImmediately } },
    headers,
  );
  expect(res.json?.error).toBeUndefined();
  return res.json?.result?.task;
}

/** The task once it is in `state` as `headers`' principal reads it on `server`. */
async function reaches(
  server: TestServer,
  id: string,
  headers: Record<string, string>,
  state: string,
  timeoutMs = 15_000,
): Promise<Json> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await rpc(server.url, 'caller', 'GetTask', { id }, headers);
    const task = res.json?.result;
    if (task?.status?.state === state) return task;
    if (Date.now() > deadline) throw new Error(`task ${id} is ${String(task?.status?.state)}, not ${state}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the caller of a task run by another replica', () => {
  let redis: RedisProcess;
  const started: TestServer[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  }, 300_000);
  afterAll(async () => {
    for (const s of started) await s.close().catch(() => {});
    await redis?.stop();
  });

  /** Replicas "one" and "two" on one Redis, one worker each. */
  async function replicas(execution: Record<string, unknown> = {}): Promise<[TestServer, TestServer]> {
    const store = {
      kind: 'redis',
      redis: { url: redis.url, keyPrefix: `caller-${randomUUID().slice(0, 8)}:` },
    };
    const one = await startServer(config('one', store, execution));
    started.push(one);
    const two = await startServer(config('two', store, execution));
    started.push(two);
    return [one, two];
  }

  it('a message queued while its replica is busy runs on the other replica as its sender', async () => {
    const [one] = await replicas();
    const held = await send(one, 'hold on one', ALICE, true);
    await reaches(one, held.id, ALICE, 'TASK_STATE_WORKING');
    // Replica one's only worker is busy: each of these waits in the queue, replica two runs it.
    const manyScopes = ['who:ask', 'x'.repeat(300), ...Array.from({ length: 100 }, (_, i) => `s${i}`)];
    const [carol, root, dave] = await Promise.all([
      bearer('carol', 'who:ask reports:read').then((h) => send(one, 'who am I', h)),
      send(one, 'who am I', ROOT),
      bearer('dave', manyScopes.join(' ')).then((h) => send(one, 'who am I', h)),
    ]);
    expect(reportOf(carol)).toEqual({
      replica: 'two',
      attempt: 1,
      user: { userName: 'carol', isAuthenticated: true },
      principal: { id: 'carol', scheme: 'jwt', scopes: ['reports:read', 'who:ask'], admin: false },
    });
    expect(reportOf(root)).toEqual({
      replica: 'two',
      attempt: 1,
      user: { userName: 'root', isAuthenticated: true },
      principal: { id: 'root', scheme: 'apiKey', scopes: ['agentd:admin', 'who:ask'], admin: true },
    });
    // A huge scope list travels bounded: the first scopes that fit, none cut short.
    const daves = reportOf(dave);
    expect(daves.replica).toBe('two');
    expect(daves.user).toEqual({ userName: 'dave', isAuthenticated: true });
    expect(daves.principal?.scopes).toHaveLength(MAX_RECORDED_SCOPES);
    expect(daves.principal?.scopes).toContain('who:ask');
    expect(daves.principal?.scopes).not.toContain('x'.repeat(300));
    const canceled = await rpc(one.url, 'caller', 'CancelTask', { id: held.id }, ALICE);
    expect(canceled.json?.result?.status?.state).toBe('TASK_STATE_CANCELED');
  }, 60_000);

  it('a task taken over from a replica cut off from Redis runs again as its sender', async () => {
    const [one, two] = await replicas({ leaseSeconds: 1 });
    const erin = await bearer('erin', 'who:ask ops:page');
    const held = await send(one, 'hold on one', erin, true);
    await reaches(two, held.id, erin, 'TASK_STATE_WORKING');
    // Replica one loses Redis for good (as if it died): its lease lapses, two takes the task over.
    await one.server.store.close();
    const done = await reaches(two, held.id, erin, 'TASK_STATE_COMPLETED', 20_000);
    expect(reportOf(done)).toEqual({
      replica: 'two',
      attempt: 2,
      user: { userName: 'erin', isAuthenticated: true },
      principal: { id: 'erin', scheme: 'jwt', scopes: ['ops:page', 'who:ask'], admin: false },
    });
  }, 60_000);

  it('a task a draining replica hands back runs on the other replica as its sender', async () => {
    const [one, two] = await replicas();
    const held = await send(one, 'hold on one', ALICE, true);
    await reaches(two, held.id, ALICE, 'TASK_STATE_WORKING');
    await one.close(); // drains for 1 s, then hands the unfinished task back to the queue
    const report = reportOf(await reaches(two, held.id, ALICE, 'TASK_STATE_COMPLETED'));
    expect(report.replica).toBe('two');
    expect(report.user).toEqual({ userName: 'alice', isAuthenticated: true });
    expect(report.principal).toEqual({
      id: 'alice',
      scheme: 'apiKey',
      scopes: ['reports:read', 'who:ask'],
      admin: false,
    });
  }, 60_000);

  it('a task queued without its caller recorded runs as its owner with no scopes, an unowned one as nobody', async () => {
    const [one] = await replicas();
    const agent = one.server.engine.agent('caller');
    /** A deferred create queued the way a replica that does not record the caller queues it. */
    const queueWithoutCaller = async (owner: Principal | undefined): Promise<string> => {
      const request = messageRequest('who am I');
      const id = randomUUID();
      const message = { ...request.message!, taskId: id, contextId: randomUUID() };
      const initial: Task = {
        id,
        contextId: message.contextId,
        status: {
          state: TaskState.TASK_STATE_SUBMITTED,
          message: undefined,
          timestamp: new Date().toISOString(),
        },
        artifacts: [],
        history: [message],
        metadata: undefined,
      };
      const queued = JSON.parse(
        queuedPayload(agent, request, as(owner), '', owner?.id ?? '', undefined, initial),
      ) as Record<string, unknown>;
      expect(queued.caller === undefined).toBe(owner === undefined);
      delete queued.caller;
      await one.server.store.queue.push(id, agent.name, JSON.stringify(queued), 100);
      return id;
    };
    const alice: Principal = { id: 'alice', scheme: 'apiKey', scopes: new Set(['who:ask']), admin: false };
    const owned = reportOf(
      await reaches(one, await queueWithoutCaller(alice), ALICE, 'TASK_STATE_COMPLETED'),
    );
    expect(owned.user).toEqual({ userName: 'alice', isAuthenticated: true });
    expect(owned.principal).toEqual({ id: 'alice', scheme: 'unknown', scopes: [], admin: false });
    const unowned = reportOf(
      await reaches(one, await queueWithoutCaller(undefined), ROOT, 'TASK_STATE_COMPLETED'),
    );
    expect(unowned.user).toBeNull();
    expect(unowned.principal).toBeNull();
  }, 60_000);
});

describe('the embedded store', () => {
  it('a message queued while the only worker is busy runs as its sender when a worker frees', async () => {
    const t = await startServer(config('one', { kind: 'memory' }, {}));
    try {
      const held = await send(t, 'hold on one', ALICE, true);
      await reaches(t, held.id, ALICE, 'TASK_STATE_WORKING');
      const waiting = bearer('carol', 'who:ask').then((h) => send(t, 'who am I', h));
      // Queued behind the held task: it runs once that one is canceled.
      await eventually(() => t.server.engine.stats().queued === 1, 10_000, 'the message to be queued');
      await rpc(t.url, 'caller', 'CancelTask', { id: held.id }, ALICE);
      expect(reportOf(await waiting)).toEqual({
        replica: 'one',
        attempt: 1,
        user: { userName: 'carol', isAuthenticated: true },
        principal: { id: 'carol', scheme: 'jwt', scopes: ['who:ask'], admin: false },
      });
    } finally {
      await t.close();
    }
  }, 30_000);
});

describe('the principal a queued request records', () => {
  const principal = (scopes: string[], admin = false): Principal => ({
    id: 'p',
    scheme: 'jwt',
    scopes: new Set(scopes),
    admin,
  });

  it('round-trips id, scheme, scopes and the admin flag through JSON', () => {
    const record = principalRecord(principal(['a', 'b'], true));
    const back = principalFromRecord(JSON.parse(JSON.stringify(record)), 'owner');
    expect({ ...back, scopes: [...back.scopes] }).toEqual({
      id: 'p',
      scheme: 'jwt',
      scopes: ['a', 'b'],
      admin: true,
    });
  });

  it('keeps the wildcard when the scope list is cut to its bound', () => {
    const many = Array.from({ length: 200 }, (_, i) => `s${i}`);
    const record = principalRecord(principal([...many, '*']));
    expect(record?.scopes).toHaveLength(MAX_RECORDED_SCOPES);
    expect(record?.scopes[0]).toBe('*');
  });

  it('records nothing for the anonymous caller; a missing or malformed record falls back to the owner, else anonymous', () => {
    expect(principalRecord(ANONYMOUS)).toBeUndefined();
    const owner = principalFromRecord({ id: 'x', scheme: 'basic', scopes: [], admin: true }, 'alice');
    expect({ ...owner, scopes: [...owner.scopes] }).toEqual({
      id: 'alice',
      scheme: 'unknown',
      scopes: [],
      admin: false,
    });
    expect(principalFromRecord(undefined, undefined)).toBe(ANONYMOUS);
    expect(principalFromRecord({ id: '', scheme: 'jwt', scopes: [], admin: false }, '')).toBe(ANONYMOUS);
  });
});
