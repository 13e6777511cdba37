/**
 * The auth matrix's "another principal's task" cell, over the wire: a task belongs to the
 * principal that created it, and every other non-admin principal gets TASK_NOT_FOUND for
 * every operation on it over JSON-RPC, HTTP+JSON, gRPC and /mcp — answered exactly as a task
 * id that does not exist is answered. ListTasks shows each principal only its own tasks; the
 * admin sees and cancels them all. The same holds for principals proven by client
 * certificates (mTLS), and across two replicas sharing one Redis.
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { Client as McpClient, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Outbound } from '../../src/security/outbound.js';
import { certDir, TestCa, writeCa, writePem } from '../helpers/certs.js';
import { RawGrpcClient } from '../helpers/grpc.js';
import { startRedis, type RedisProcess } from '../helpers/redis-server.js';
import { eventually, startServer, type TestServer } from '../helpers/server.js';
import { BINDINGS, expectAllRefusedLikeMissing, type Caller, type Target } from './ownership-wire-ops.js';
import {
  addHook,
  cancel,
  createTask,
  expectMcpCancelRefused,
  hookIds,
  listedIds,
  stateOf,
} from './ownership-wire-tasks.js';

const AGENTS = [{ name: 'countdown', kind: 'countdown', stepMs: 100, default: true }];
/** Long enough to still be running when the test is done with it (the admin cancels it). */
const LONG = 'count to 1000';
const KEYS = [
  { key: 'alice-key-0123456789', principal: 'alice', scopes: [] },
  { key: 'bob-key-0123456789', principal: 'bob', scopes: [] },
  { key: 'admin-key-0123456789', principal: 'ops', scopes: ['agentd:admin'] },
];

const closers: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

/** API-key callers of one server (one gRPC channel each, closed after the file). */
function keyCallers(ts: TestServer): { alice: Caller; bob: Caller; admin: Caller } {
  const caller = (name: string, key: string): Caller => {
    const client = new RawGrpcClient(ts.server.grpcAddress as string);
    closers.push(() => client.close());
    return { name, headers: { 'x-api-key': key }, fetch: (url, init) => fetch(url, init), grpc: client };
  };
  return {
    alice: caller('alice', 'alice-key-0123456789'),
    bob: caller('bob', 'bob-key-0123456789'),
    admin: caller('admin', 'admin-key-0123456789'),
  };
}

describe('API-key principals on one server', () => {
  let ts: TestServer;
  let target: Target;
  let alice: Caller;
  let bob: Caller;
  let admin: Caller;
  beforeAll(async () => {
    ts = await startServer({ agents: AGENTS, auth: { apiKeys: KEYS } });
    closers.push(() => ts.close());
    target = { url: ts.url, agent: 'countdown' };
    ({ alice, bob, admin } = keyCallers(ts));
  });

  describe.each(BINDINGS)('over %s', (binding) => {
    it('another principal gets TASK_NOT_FOUND for every operation, exactly like a task that does not exist', async () => {
      const task = await createTask(binding, target, alice, LONG);
      await addHook(binding, target, alice, task.id);
      await expectAllRefusedLikeMissing(binding, target, task, bob);
      // Nothing bob did touched it: still running, its push config still there.
      expect(await stateOf(binding, target, alice, task.id)).toBe('TASK_STATE_WORKING');
      expect(await hookIds(binding, target, alice, task.id)).toEqual(['hook']);
    });

    it('a finished task of another principal is refused like a missing one too (no TASK_NOT_CANCELABLE, no terminal-task error)', async () => {
      const task = await createTask(binding, target, alice, 'count to 2');
      await eventually(
        async () => (await stateOf(binding, target, alice, task.id)) === 'TASK_STATE_COMPLETED',
        15_000,
        'the task to complete',
      );
      await expectAllRefusedLikeMissing(binding, target, task, bob);
    });

    it('a task waiting for input, and a canceled one, of another principal are refused like missing ones', async () => {
      const task = await createTask(binding, target, alice, 'count to 4 and ask');
      await eventually(
        async () => (await stateOf(binding, target, alice, task.id)) === 'TASK_STATE_INPUT_REQUIRED',
        15_000,
        'the task to ask for input',
      );
      await expectAllRefusedLikeMissing(binding, target, task, bob);
      expect(await stateOf(binding, target, alice, task.id)).toBe('TASK_STATE_INPUT_REQUIRED');
      expect(await cancel(binding, target, alice, task.id)).toBe('TASK_STATE_CANCELED');
      await expectAllRefusedLikeMissing(binding, target, task, bob);
    });

    it('ListTasks shows the task to its owner and the admin only; the admin cancels it', async () => {
      const task = await createTask(binding, target, alice, LONG);
      const mine = await createTask(binding, target, bob, LONG);
      expect(await listedIds(binding, target, alice, task.contextId)).toEqual([task.id]);
      expect(await listedIds(binding, target, bob, task.contextId)).toEqual([]);
      expect(await listedIds(binding, target, admin, task.contextId)).toEqual([task.id]);
      // Without a context filter: bob lists his own task, never alice's; the admin both.
      const bobs = await listedIds(binding, target, bob, '');
      expect(bobs).toContain(mine.id);
      expect(bobs).not.toContain(task.id);
      expect(await listedIds(binding, target, alice, '')).not.toContain(mine.id);
      expect(await listedIds(binding, target, admin, '')).toEqual(expect.arrayContaining([task.id, mine.id]));
      expect(await cancel(binding, target, admin, mine.id)).toBe('TASK_STATE_CANCELED');
      expect(await stateOf(binding, target, admin, task.id)).toBe('TASK_STATE_WORKING');
      expect(await cancel(binding, target, admin, task.id)).toBe('TASK_STATE_CANCELED');
      expect(await stateOf(binding, target, alice, task.id)).toBe('TASK_STATE_CANCELED');
    });
  });

  it.each(BINDINGS)(
    'over %s, the same messageId from another principal starts its own task, not an answer from the first one’s',
    async (binding) => {
      const messageId = randomUUID();
      const first = await createTask(binding, target, alice, LONG, messageId);
      const other = await createTask(binding, target, bob, LONG, messageId);
      expect(other.id).not.toBe(first.id);
      expect(other.contextId).not.toBe(first.contextId);
      // Each principal's repeat is answered from its own task.
      expect((await createTask(binding, target, alice, LONG, messageId)).id).toBe(first.id);
      expect((await createTask(binding, target, bob, LONG, messageId)).id).toBe(other.id);
      for (const id of [first.id, other.id])
        expect(await cancel(binding, target, admin, id)).toBe('TASK_STATE_CANCELED');
    },
  );

  it.each(BINDINGS)(
    'over %s, a message in the owner’s context (no taskId) does not continue the owner’s waiting task',
    async (binding) => {
      const task = await createTask(binding, target, alice, 'count to 4 and ask');
      await eventually(
        async () => (await stateOf(binding, target, alice, task.id)) === 'TASK_STATE_INPUT_REQUIRED',
        15_000,
        'the task to ask for input',
      );
      const other = await createTask(binding, target, bob, 'count to 2', randomUUID(), task.contextId);
      expect(other.id).not.toBe(task.id);
      expect(await stateOf(binding, target, alice, task.id)).toBe('TASK_STATE_INPUT_REQUIRED');
      // Each sees only its own task of that context.
      expect(await listedIds(binding, target, alice, task.contextId)).toEqual([task.id]);
      expect(await listedIds(binding, target, bob, task.contextId)).toEqual([other.id]);
      expect(await cancel(binding, target, admin, task.id)).toBe('TASK_STATE_CANCELED');
    },
  );

  describe('/mcp: a tool call continuing a task', () => {
    const clients: McpClient[] = [];
    afterAll(async () => {
      for (const c of clients) await c.close();
    });
    async function mcp(key: string): Promise<McpClient> {
      const client = new McpClient({ name: 'ownership-test', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL('/mcp', ts.url), {
          requestInit: { headers: { 'x-api-key': key } },
        }),
      );
      clients.push(client);
      return client;
    }
    interface ToolResult {
      isError?: boolean;
      content: Array<{ type: string; text?: string }>;
      _meta?: Record<string, unknown>;
    }
    const blanked = (r: ToolResult, id: string): unknown =>
      JSON.parse(JSON.stringify(r).split(id).join('<id>'));

    it('another principal answering the owner’s waiting task gets TASK_NOT_FOUND, like for a missing task', async () => {
      const task = await createTask('jsonrpc', target, alice, 'count to 4 and ask');
      await eventually(
        async () => (await stateOf('jsonrpc', target, alice, task.id)) === 'TASK_STATE_INPUT_REQUIRED',
        15_000,
        'the task to ask for input',
      );
      const [bobMcp, aliceMcp] = [await mcp('bob-key-0123456789'), await mcp('alice-key-0123456789')];
      const tool = (await bobMcp.listTools()).tools.find(
        (x) => x.name.startsWith('countdown__') && 'taskId' in ((x.inputSchema.properties ?? {}) as object),
      );
      expect(tool, 'a countdown tool taking taskId').toBeDefined();
      const name = tool?.name ?? '';
      const answer = async (client: McpClient, args: Record<string, string>): Promise<ToolResult> =>
        (await client.callTool({ name, arguments: { text: 'go on', ...args } })) as ToolResult;
      for (const withContext of [false, true]) {
        const ctx: Record<string, string> = withContext ? { contextId: task.contextId } : {};
        const refused = await answer(bobMcp, { taskId: task.id, ...ctx });
        expect(refused.isError, JSON.stringify(refused)).toBe(true);
        expect(refused._meta?.['agentd/errorCode']).toBe('TASK_NOT_FOUND');
        const ghost = randomUUID();
        expect(blanked(refused, task.id)).toEqual(
          blanked(await answer(bobMcp, { taskId: ghost, ...ctx }), ghost),
        );
      }
      // Bob's answers did not reach the task; alice's does, and it completes.
      expect(await stateOf('jsonrpc', target, alice, task.id)).toBe('TASK_STATE_INPUT_REQUIRED');
      const done = await answer(aliceMcp, { taskId: task.id, contextId: task.contextId });
      expect(done.isError ?? false, JSON.stringify(done)).toBe(false);
      expect(done._meta?.['agentd/state']).toBe('TASK_STATE_COMPLETED');
    });

    it('another principal cannot cancel the owner’s tool call (notifications/cancelled) from the same address and client software', async () => {
      const aliceMcp = await expectMcpCancelRefused(target, alice, bob);
      clients.push(aliceMcp);
    });
  });
});

describe('mTLS principals (the client certificate owns the task)', () => {
  let ts: TestServer;
  let target: Target;
  let alice: Caller;
  let bob: Caller;
  beforeAll(async () => {
    const ca = await TestCa.create('ownership CA');
    const dir = await certDir();
    const serverFiles = await writePem(dir, 'server', await ca.issue({ commonName: 'agentd', server: true }));
    const caFile = await writeCa(dir, 'ca', ca);
    ts = await startServer({
      agents: AGENTS,
      tls: { ...serverFiles, clientCaFile: caFile, clientAuth: 'required' },
    });
    closers.push(() => ts.close());
    target = { url: ts.url, agent: 'countdown' };
    expect(ts.url).toMatch(/^https:/);
    const certCaller = async (name: string): Promise<Caller> => {
      const pem = await ca.issue({ commonName: name, dnsNames: [`${name}.internal`], client: true });
      const files = await writePem(dir, name, pem);
      const outbound = await Outbound.create({ caFile, ...files });
      const client = new RawGrpcClient(
        ts.server.grpcAddress as string,
        {},
        grpc.credentials.createSsl(Buffer.from(ca.cert), Buffer.from(pem.key), Buffer.from(pem.cert)),
      );
      closers.push(() => client.close());
      closers.push(() => outbound.close());
      return { name, headers: {}, fetch: (url, init) => outbound.for(url).fetch(url, init), grpc: client };
    };
    alice = await certCaller('alice');
    bob = await certCaller('bob');
  });

  describe.each(BINDINGS)('over %s', (binding) => {
    it('the other certificate gets TASK_NOT_FOUND for every operation, like a task that does not exist', async () => {
      const task = await createTask(binding, target, alice, LONG);
      await expectAllRefusedLikeMissing(binding, target, task, bob);
      expect(await stateOf(binding, target, alice, task.id)).toBe('TASK_STATE_WORKING');
      expect(await listedIds(binding, target, alice, task.contextId)).toEqual([task.id]);
      expect(await listedIds(binding, target, bob, task.contextId)).toEqual([]);
      expect(await cancel(binding, target, alice, task.id)).toBe('TASK_STATE_CANCELED');
    });
  });

  it('over /mcp, the other certificate cannot cancel the owner’s tool call (notifications/cancelled)', async () => {
    const client = await expectMcpCancelRefused(target, alice, bob);
    await client.close();
  });
});

describe('two replicas on one Redis', () => {
  let redis: RedisProcess;
  let one: TestServer;
  let two: TestServer;
  let onOne: ReturnType<typeof keyCallers>;
  let onTwo: ReturnType<typeof keyCallers>;
  beforeAll(async () => {
    redis = await startRedis();
    closers.push(() => redis.stop());
    const config = {
      agents: AGENTS,
      auth: { apiKeys: KEYS },
      store: { kind: 'redis', redis: { url: redis.url, keyPrefix: `own-wire-${randomUUID().slice(0, 8)}:` } },
    };
    one = await startServer(config);
    closers.push(() => one.close());
    two = await startServer(config);
    closers.push(() => two.close());
    onOne = keyCallers(one);
    onTwo = keyCallers(two);
  }, 120_000);

  describe.each(BINDINGS)('over %s', (binding) => {
    it('a task created on replica 1 is TASK_NOT_FOUND for another principal on replica 2; its owner and the admin see it there', async () => {
      const task = await createTask(binding, { url: one.url, agent: 'countdown' }, onOne.alice, LONG);
      const there = { url: two.url, agent: 'countdown' };
      await expectAllRefusedLikeMissing(binding, there, task, onTwo.bob);
      expect(await stateOf(binding, there, onTwo.alice, task.id)).toBe('TASK_STATE_WORKING');
      expect(await listedIds(binding, there, onTwo.bob, task.contextId)).toEqual([]);
      expect(await listedIds(binding, there, onTwo.admin, task.contextId)).toEqual([task.id]);
      expect(await cancel(binding, there, onTwo.admin, task.id)).toBe('TASK_STATE_CANCELED');
    });
  });
});
