import { Role, TaskState, type AgentCard, type Part, type Task } from '@a2a-js/sdk';
import { dataPart } from '../../src/agents/parts.js';
import {
  AgentEvent,
  type AgentExecutor,
  type ExecutionEventBus,
  type RequestContext,
} from '@a2a-js/sdk/server';
import {
  Client,
  ProtocolError,
  StreamableHTTPClientTransport,
  type CallToolResult,
  type Progress,
} from '@modelcontextprotocol/client';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostedAgent } from '../../src/engine/hosted-agent.js';
import { taskResult } from '../../src/mcp/mcp-endpoint-result.js';
import { MAX_TOOL_NAME, MCP_TOOLS_EXTENSION, toolName } from '../../src/mcp/mcp-endpoint-tools.js';
import { listRequest, messageText } from '../helpers/interop.js';
import { clientFor, waitForTaskState } from '../helpers/sdk-client.js';
import { DEMO_AGENTS, eventually, startServer, type TestServer } from '../helpers/server.js';

/** The two protocol eras `/mcp` serves: 2025 (stateless, the SDK client's default) and 2026-07-28. */
const ERAS = ['2025', '2026-07-28'] as const;
type Era = (typeof ERAS)[number];

async function connect(t: TestServer, era: Era): Promise<Client> {
  const client = new Client(
    { name: 'agentd-test', version: '1.0.0' },
    era === '2025' ? {} : { versionNegotiation: { mode: { pin: era } } },
  );
  await client.connect(new StreamableHTTPClientTransport(new URL('/mcp', t.url)));
  return client;
}

/** The text of a tool result (its text blocks joined). */
function textOf(result: CallToolResult): string {
  return result.content.flatMap((c) => (c.type === 'text' ? [c.text] : [])).join('\n');
}

/**
 * The task a progress notification names. MCP allows `_meta` on every notification's params
 * and the client passes it on, though its `Progress` type does not declare it.
 */
function progressTaskId(progress: Progress): string {
  const meta = (progress as Progress & { _meta?: Record<string, unknown> })._meta;
  return String(meta?.['agentd/taskId']);
}

const ADD_SCHEMA = {
  type: 'object',
  properties: { a: { type: 'number' }, b: { type: 'number' } },
  required: ['a', 'b'],
  additionalProperties: false,
};

/**
 * A stand-in for a tools agent: it declares the MCP tool behind its skill with the
 * mcp-tools extension, reads the `{ tool, arguments }` data part and publishes a completed
 * task whose artifact is the tool's structured result.
 */
class CalcExecutor implements AgentExecutor {
  readonly received: unknown[] = [];

  async execute(ctx: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const part = ctx.userMessage.parts.find((p) => p.content?.$case === 'data');
    const call = (part?.content?.$case === 'data' ? part.content.value : {}) as {
      tool?: string;
      arguments?: { a: number; b: number };
    };
    this.received.push({ data: call, extensions: ctx.userMessage.extensions });
    const sum = (call.arguments?.a ?? 0) + (call.arguments?.b ?? 0);
    bus.publish(
      AgentEvent.task({
        id: ctx.taskId,
        contextId: ctx.contextId,
        status: {
          state: TaskState.TASK_STATE_COMPLETED,
          message: undefined,
          timestamp: new Date().toISOString(),
        },
        artifacts: [
          {
            artifactId: 'result',
            name: 'result',
            description: '',
            parts: [dataPart({ sum })],
            metadata: undefined,
            extensions: [],
          },
        ],
        history: [ctx.userMessage],
        metadata: undefined,
      }),
    );
    bus.finished();
  }

  async cancelTask(): Promise<void> {}
}

function calcAgent(executor: CalcExecutor): HostedAgent {
  const card: AgentCard = {
    name: 'calc',
    description: 'Arithmetic, from an MCP server.',
    supportedInterfaces: [],
    provider: undefined,
    version: '1.0.0',
    documentationUrl: undefined,
    capabilities: {
      streaming: true,
      pushNotifications: false,
      extensions: [
        {
          uri: MCP_TOOLS_EXTENSION,
          description: 'Skills are MCP tools',
          required: false,
          params: { tools: { add: { server: 'calculator', tool: 'add', inputSchema: ADD_SCHEMA } } },
        },
      ],
      extendedAgentCard: false,
    },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ['application/json'],
    defaultOutputModes: ['application/json'],
    skills: [
      {
        id: 'add',
        name: 'Add',
        description: 'Adds two numbers.',
        tags: [],
        examples: [],
        inputModes: [],
        outputModes: [],
        securityRequirements: [],
      },
    ],
    signatures: [],
    iconUrl: undefined,
  };
  return { name: 'calc', card, extendedCard: undefined, executor };
}

describe('MCP endpoint: the hosted agents as MCP tools at /mcp', () => {
  let t: TestServer;
  const calc = new CalcExecutor();
  beforeAll(async () => {
    t = await startServer({
      agents: [
        ...DEMO_AGENTS,
        { name: 'boom', kind: 'module', module: 'test/fixtures/throwing-agent.mjs', description: 'Fails.' },
        { name: 'quiet', kind: 'echo', streaming: false },
      ],
    });
    t.server.engine.addAgent(calcAgent(calc));
  });
  afterAll(() => t.close());

  describe.each(ERAS)('with a %s client', (era) => {
    let mcp: Client;
    beforeAll(async () => {
      mcp = await connect(t, era);
    });
    afterAll(() => mcp.close());

    it('negotiates the protocol era the client asked for', () => {
      const version = mcp.getNegotiatedProtocolVersion();
      if (era === '2025') expect(version).toMatch(/^2025-/);
      else expect(version).toBe(era);
    });

    it('lists one tool per agent skill, named <agent>__<skill>, with a text-message input schema', async () => {
      const { tools } = await mcp.listTools();
      expect(tools.map((tool) => tool.name).sort()).toEqual([
        'boom__module',
        'calc__add',
        'countdown__countdown',
        'echo__echo',
        'quiet__echo',
      ]);
      const echo = tools.find((tool) => tool.name === 'echo__echo');
      expect(echo?.inputSchema).toMatchObject({
        type: 'object',
        properties: { text: { type: 'string' }, contextId: { type: 'string' }, taskId: { type: 'string' } },
        required: ['text'],
      });
      expect(tools.find((tool) => tool.name === 'boom__module')?.description).toContain('Fails.');
    });

    it('calling echo returns the text as the result, with the task it ran as in _meta', async () => {
      const result = (await mcp.callTool({
        name: 'echo__echo',
        arguments: { text: 'hello over MCP' },
      })) as CallToolResult;
      expect(result.isError).toBeFalsy();
      expect(result.content).toEqual([{ type: 'text', text: 'hello over MCP' }]);
      expect(result._meta).toMatchObject({
        'agentd/taskId': expect.any(String),
        'agentd/contextId': expect.any(String),
        'agentd/state': 'TASK_STATE_COMPLETED',
      });
      const a2a = await clientFor(t.agentUrl('echo'));
      const task = await a2a.getTask({ tenant: '', id: String(result._meta?.['agentd/taskId']) });
      expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    });

    it('an agent that does not stream is called all the same (SendMessage)', async () => {
      const result = (await mcp.callTool({
        name: 'quiet__echo',
        arguments: { text: 'quietly' },
      })) as CallToolResult;
      expect(result.content).toEqual([{ type: 'text', text: 'quietly' }]);
    });

    it('calling countdown streams progress notifications, then returns the whole artifact', async () => {
      const progress: Progress[] = [];
      const result = (await mcp.callTool(
        { name: 'countdown__countdown', arguments: { text: 'count to 3' } },
        { onprogress: (p) => progress.push(p) },
      )) as CallToolResult;
      expect(result.isError).toBeFalsy();
      expect(textOf(result)).toBe('1\n2\n3\n');
      expect(progress.map((p) => p.message)).toEqual([
        'Counting to 3',
        'count: 1',
        '1/3',
        'count: 2',
        '2/3',
        'count: 3',
      ]);
      expect(progress.map((p) => p.progress)).toEqual([1, 2, 3, 4, 5, 6]);
      // Each notification names the task, so the caller knows it before the result.
      expect(new Set(progress.map(progressTaskId))).toEqual(
        new Set([String(result._meta?.['agentd/taskId'])]),
      );
    });

    it('cancelling a call (AbortSignal) cancels its A2A task, and the agent stops counting', async () => {
      const controller = new AbortController();
      let taskId = '';
      const started = new Promise<void>((resolve) => {
        const call = mcp.callTool(
          { name: 'countdown__countdown', arguments: { text: 'count to 1000' } },
          {
            signal: controller.signal,
            onprogress: (p) => {
              taskId = progressTaskId(p);
              if (p.message === 'count: 2') resolve();
            },
          },
        );
        void call.catch(() => {}); // rejected by the abort
      });
      await started;
      controller.abort();
      const a2a = await clientFor(t.agentUrl('countdown'));
      const task = await waitForTaskState(a2a, taskId, TaskState.TASK_STATE_CANCELED);
      const counted = task.artifacts.find((a) => a.artifactId === 'count')?.parts.length ?? 0;
      expect(counted).toBeGreaterThanOrEqual(2);
      expect(counted).toBeLessThan(1000);
    });

    it('cancelling a call that asked for no progress (nothing streamed yet) cancels its task too', async () => {
      const text = `count to 999 (${era} client, no progress)`;
      const controller = new AbortController();
      void mcp
        .callTool({ name: 'countdown__countdown', arguments: { text } }, { signal: controller.signal })
        .catch(() => {});
      const a2a = await clientFor(t.agentUrl('countdown'));
      const find = async (): Promise<Task | undefined> =>
        (await a2a.listTasks(listRequest())).tasks.find((task) =>
          task.history.some((m) => messageText(m) === text),
        );
      // Nothing to wait on but the task list: the call streams no events while it counts.
      await eventually(async () => (await find())?.status?.state === TaskState.TASK_STATE_WORKING);
      controller.abort();
      const task = await waitForTaskState(a2a, (await find())?.id ?? '', TaskState.TASK_STATE_CANCELED);
      expect(task.artifacts.find((a) => a.artifactId === 'count')?.parts.length ?? 0).toBeLessThan(999);
    });

    it('a task that asks for input returns the question and how to answer; answering continues it', async () => {
      const asked = (await mcp.callTool({
        name: 'countdown__countdown',
        arguments: { text: 'count to 4, ask me halfway' },
      })) as CallToolResult;
      expect(asked.isError).toBeFalsy();
      const { taskId, contextId, state } = asked.structuredContent as Record<string, string>;
      expect(state).toBe('TASK_STATE_INPUT_REQUIRED');
      expect(textOf(asked)).toContain('Counted to 2 of 4. Reply to continue.');
      expect(textOf(asked)).toContain(`call countdown__countdown again with`);
      expect(textOf(asked)).toContain(`"taskId": "${taskId}"`);

      const done = (await mcp.callTool({
        name: 'countdown__countdown',
        arguments: { text: 'go on', taskId, contextId },
      })) as CallToolResult;
      expect(done._meta).toMatchObject({ 'agentd/taskId': taskId, 'agentd/state': 'TASK_STATE_COMPLETED' });
      expect(textOf(done)).toBe('1\n2\n3\n4\n');
    });

    it('an unknown tool is a JSON-RPC error naming it', async () => {
      const error = await mcp
        .callTool({ name: 'nobody__nothing', arguments: { text: 'hi' } })
        .catch((e) => e);
      expect(error).toBeInstanceOf(ProtocolError);
      expect((error as ProtocolError).message).toContain('nobody__nothing');
    });

    it('a call without `text` is refused with an error naming the field', async () => {
      const result = (await mcp.callTool({ name: 'echo__echo', arguments: {} })) as CallToolResult;
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/required property 'text'/);
      expect(result._meta?.['agentd/taskId']).toBeUndefined();
    });

    it('an agent that fails gives an error result with its message', async () => {
      const result = (await mcp.callTool({
        name: 'boom__module',
        arguments: { text: 'go' },
      })) as CallToolResult;
      expect(result.isError).toBe(true);
      expect(textOf(result)).toBe('Agent "boom" failed: kaboom after working');
      expect(result._meta).toMatchObject({ 'agentd/state': 'TASK_STATE_FAILED' });
    });

    it('an engine error is an error result with the catalogue message and code', async () => {
      const result = (await mcp.callTool({
        name: 'echo__echo',
        arguments: { text: 'hi', taskId: 'no-such-task' },
      })) as CallToolResult;
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/no-such-task.*\(TASK_NOT_FOUND\)/);
      expect(result._meta).toMatchObject({ 'agentd/errorCode': 'TASK_NOT_FOUND' });
    });

    it('a tools agent skill takes its MCP tool schema and gets the arguments as a data part', async () => {
      const { tools } = await mcp.listTools();
      const add = tools.find((tool) => tool.name === 'calc__add');
      expect(add?.inputSchema).toEqual(ADD_SCHEMA);
      expect(add?.description).toContain('Adds two numbers.');

      calc.received.length = 0;
      const result = (await mcp.callTool({ name: 'calc__add', arguments: { a: 2, b: 3 } })) as CallToolResult;
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toEqual({ sum: 5 });
      expect(JSON.parse(textOf(result))).toEqual({ sum: 5 });
      expect(calc.received).toEqual([
        { data: { tool: 'add', arguments: { a: 2, b: 3 } }, extensions: [MCP_TOOLS_EXTENSION] },
      ]);

      const invalid = (await mcp.callTool({ name: 'calc__add', arguments: { a: 2 } })) as CallToolResult;
      expect(invalid.isError).toBe(true);
      expect(textOf(invalid)).toMatch(/required property 'b'/);
    });
  });

  it('answers malformed JSON with a JSON-RPC parse error, and keeps serving', async () => {
    const res = await fetch(`${t.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: '{"jsonrpc": "2.0", "method": "tools/list", ',
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as {
      jsonrpc: string;
      id: unknown;
      error: { code: number; message: string };
    };
    expect(body).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
    expect(body.error.message).toMatch(/not valid JSON/);

    const mcp = await connect(t, '2025');
    expect((await mcp.listTools()).tools.length).toBeGreaterThan(0);
    await mcp.close();
  });

  it('answers GET and DELETE (2025 session operations) with 405, and other media types with 415', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(`${t.url}/mcp`, { method, headers: { accept: 'text/event-stream' } });
      expect(res.status).toBe(405);
      expect(await res.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 } });
    }
    const res = await fetch(`${t.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', accept: 'application/json, text/event-stream' },
      body: 'hello',
    });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 } });
  });

  it('names tools in the charset LLM APIs accept, at most 64 characters, unique when cut', () => {
    expect(toolName('docs', 'search.v2 (beta)')).toBe('docs__search_v2__beta_');
    const long = toolName('agent', 'x'.repeat(100));
    const other = toolName('agent', `${'x'.repeat(99)}y`);
    expect(long).toHaveLength(MAX_TOOL_NAME);
    expect(long).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(long).not.toBe(other);
  });
});

describe('MCP endpoint in front of a real tools agent (MCP server → A2A agent → MCP client)', () => {
  let t: TestServer;
  let mcp: Client;
  beforeAll(async () => {
    const everything = resolve('node_modules/@modelcontextprotocol/server-everything/dist/index.js');
    t = await startServer({
      agents: [{ name: 'tools', kind: 'tools', servers: ['everything'] }],
      mcp: {
        servers: [{ name: 'everything', transport: 'stdio', command: 'node', args: [everything, 'stdio'] }],
      },
    });
    mcp = await connect(t, '2025');
  });
  afterAll(async () => {
    await mcp?.close();
    await t?.close();
  });

  it("offers the server's tools with their own schemas, and hands their results back unchanged", async () => {
    const { tools } = await mcp.listTools();
    expect(tools.find((tool) => tool.name === 'tools__get-sum')?.inputSchema).toMatchObject({
      properties: { a: { type: 'number' }, b: { type: 'number' } },
      required: ['a', 'b'],
    });

    const sum = (await mcp.callTool({ name: 'tools__get-sum', arguments: { a: 2, b: 3 } })) as CallToolResult;
    expect(sum.content).toEqual([{ type: 'text', text: 'The sum of 2 and 3 is 5.' }]);

    const weather = (await mcp.callTool({
      name: 'tools__get-structured-content',
      arguments: { location: 'New York' },
    })) as CallToolResult;
    expect(weather.content).toHaveLength(1); // the structured content is not repeated as text
    expect(JSON.parse(textOf(weather))).toEqual(weather.structuredContent);

    const reference = (await mcp.callTool({
      name: 'tools__get-resource-reference',
      arguments: { resourceType: 'Text', resourceId: 1 },
    })) as CallToolResult;
    expect(reference.content).toContainEqual({
      type: 'resource',
      resource: { uri: 'demo://resource/dynamic/text/1', mimeType: 'text/plain', text: expect.any(String) },
    });
  });

  it("relays the MCP server's progress through the A2A task to the MCP client", async () => {
    const progress: Progress[] = [];
    const result = (await mcp.callTool(
      { name: 'tools__trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } },
      { onprogress: (p) => progress.push(p) },
    )) as CallToolResult;
    expect(textOf(result)).toMatch(/^Long running operation completed/);
    expect(progress.map((p) => p.message)).toEqual(expect.arrayContaining(['1/3', '2/3']));
  });
});

describe('MCP endpoint when every worker is busy', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ execution: { maxConcurrentWorkflows: 1, maxQueueDepth: 0 } });
  });
  afterAll(() => t.close());

  it('a call refused with QUEUE_FULL is an error result saying so, and retryable', async () => {
    const mcp = await connect(t, '2025');
    const controller = new AbortController();
    // The only worker counts; the call is cancelled (and its task with it) once the test is done.
    const busy = await new Promise<string>((resolve) => {
      void mcp
        .callTool(
          { name: 'countdown__countdown', arguments: { text: 'count to 1000' } },
          { signal: controller.signal, onprogress: (p) => resolve(progressTaskId(p)) },
        )
        .catch(() => {});
    });
    const result = (await mcp.callTool({ name: 'echo__echo', arguments: { text: 'hi' } })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/\(QUEUE_FULL, retryable\)$/);
    expect(result._meta).toMatchObject({ 'agentd/errorCode': 'QUEUE_FULL' });

    controller.abort();
    await waitForTaskState(await clientFor(t.agentUrl('countdown')), busy, TaskState.TASK_STATE_CANCELED);
    await mcp.close();
  });
});

describe('MCP endpoint at shutdown', () => {
  it('a call in flight gets an error result, and open MCP streams do not hold the server open', async () => {
    const t = await startServer();
    const legacy = await connect(t, '2025');
    const modern = await connect(t, '2026-07-28');
    await modern.listen({ toolsListChanged: true }); // an open subscriptions/listen stream
    let counting!: () => void;
    const started = new Promise<void>((resolve) => (counting = resolve));
    const call = legacy.callTool(
      { name: 'countdown__countdown', arguments: { text: 'count to 1000' } },
      { onprogress: () => counting() },
    );
    await started;

    const closing = Date.now();
    await t.close(); // drains for 1 s, then fails what still runs
    const result = (await call) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe('The server shut down before this task finished');
    // The drain, not the clients' keep-alive (4 s) on sockets whose stream ended late.
    expect(Date.now() - closing).toBeLessThan(3000);
    await Promise.all([legacy.close(), modern.close()]);
  });
});

describe('MCP tool results for A2A outcomes', () => {
  const base = { filename: '', mediaType: '', metadata: undefined };
  const text = (value: string): Part => ({ ...base, content: { $case: 'text', value } });
  function taskIn(state: TaskState, parts: Part[], said = ''): Task {
    const message = said
      ? {
          messageId: 'm1',
          contextId: 'c1',
          taskId: 't1',
          role: Role.ROLE_AGENT,
          parts: [text(said)],
          metadata: undefined,
          extensions: [],
          referenceTaskIds: [],
        }
      : undefined;
    const artifact = {
      artifactId: 'out',
      name: 'out',
      description: '',
      parts,
      metadata: undefined,
      extensions: [],
    };
    return {
      id: 't1',
      contextId: 'c1',
      status: { state, message, timestamp: '' },
      artifacts: parts.length > 0 ? [artifact] : [],
      history: [],
      metadata: undefined,
    };
  }
  const done = TaskState.TASK_STATE_COMPLETED;
  const hint = { toolName: 'a__b', canContinue: true };

  it('maps text chunks, data, files and links to MCP content', () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47]);
    const result = taskResult(
      taskIn(done, [
        text('Hel'),
        text('lo'),
        { ...base, content: { $case: 'data', value: { n: 1 } } },
        { ...base, mediaType: 'image/png', content: { $case: 'raw', value: png } },
        { ...base, mediaType: 'audio/wav', content: { $case: 'raw', value: png } },
        { ...base, mediaType: 'application/pdf', filename: 'r.pdf', content: { $case: 'raw', value: png } },
        { ...base, filename: 'doc', content: { $case: 'url', value: 'https://example.com/doc' } },
      ]),
      hint,
    );
    const data = png.toString('base64');
    expect(result.content).toEqual([
      { type: 'text', text: 'Hello' },
      { type: 'text', text: '{\n  "n": 1\n}' },
      { type: 'image', data, mimeType: 'image/png' },
      { type: 'audio', data, mimeType: 'audio/wav' },
      {
        type: 'resource',
        resource: { uri: 'agentd://task/t1/artifact/out/r.pdf', blob: data, mimeType: 'application/pdf' },
      },
      { type: 'resource_link', uri: 'https://example.com/doc', name: 'doc' },
    ]);
    expect(result.structuredContent).toEqual({ n: 1 }); // the only data part
  });

  it('gives structuredContent for a single data object, and the status text when there are no artifacts', () => {
    const data: Part = { ...base, content: { $case: 'data', value: { ok: true } } };
    const other: Part = { ...base, content: { $case: 'data', value: { ok: false } } };
    expect(taskResult(taskIn(done, [data]), hint).structuredContent).toEqual({ ok: true });
    expect(taskResult(taskIn(done, [data, other]), hint).structuredContent).toBeUndefined();
    expect(taskResult(taskIn(done, [], 'All done'), hint).content).toEqual([
      { type: 'text', text: 'All done' },
    ]);
  });

  it('a declared MCP tool cannot answer a task waiting for input, and says so', () => {
    const waiting = taskIn(TaskState.TASK_STATE_INPUT_REQUIRED, [], 'Which file?');
    const result = taskResult(waiting, { toolName: 'calc__add', canContinue: false });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({
      taskId: 't1',
      contextId: 'c1',
      state: 'TASK_STATE_INPUT_REQUIRED',
    });
    expect(result.content).toEqual([
      {
        type: 'text',
        text: 'Which file?\n\n[Task t1 is waiting for your input. This tool cannot answer it; reply to task t1 (context c1) with an A2A client.]',
      },
    ]);
  });
});

describe('mcp.endpoint: false', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ mcp: { endpoint: false } });
  });
  afterAll(() => t?.close());

  it('serves no /mcp (404 ROUTE_NOT_FOUND), and the A2A routes as before', async () => {
    const res = await fetch(`${t.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(res.status).toBe(404);
    expect(JSON.stringify(await res.json())).toContain('ROUTE_NOT_FOUND');
    expect((await fetch(`${t.url}/a2a/echo/.well-known/agent-card.json`)).status).toBe(200);
  });
});
