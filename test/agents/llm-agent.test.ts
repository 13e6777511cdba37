/**
 * The `llm` agent kind inside agentd, against a scripted OpenAI-compatible model (a real
 * HTTP server speaking OpenAI's streaming format, see ../helpers/fake-openai.ts) and a real
 * MCP server from npm (`@modelcontextprotocol/server-everything` over stdio). The A2A side
 * is the official SDK client. A few behaviours agentd cannot reach through its config
 * (a follow-up turn, no retries) drive the executor directly.
 */
import { Role, TaskState, type Message, type StreamResponse, type Task } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LlmAgent, sanitizeToolName, type LlmAgentOptions } from '../../src/agents/llm-agent.js';
import { McpPool } from '../../src/mcp/mcp-pool.js';
import type { McpTool } from '../../src/mcp/mcp-server-connection.js';
import { DEFAULT_USAGE, startFakeOpenAi, type ChatMessage, type FakeOpenAi } from '../helpers/fake-openai.js';
import { artifactText, describeEvents, messageText, stateOf } from '../helpers/interop.js';
import { clientFor, sendRequest } from '../helpers/sdk-client.js';
import { eventually, startServer, type TestServer } from '../helpers/server.js';
import { RecordingEventBus, requestContext, taskFor, userMessage } from './recording-event-bus.js';

const EVERYTHING = resolve('node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const SUM_TEXT = 'The sum of 2 and 3 is 5.';

/** The text of each artifact chunk with its append / lastChunk flags, in stream order. */
function chunks(events: StreamResponse[]): Array<{ text: string; append: boolean; lastChunk: boolean }> {
  return events.flatMap((e) => {
    const p = e.payload;
    if (p?.$case !== 'artifactUpdate') return [];
    const text = (p.value.artifact?.parts ?? [])
      .map((part) => (part.content?.$case === 'text' ? part.content.value : ''))
      .join('');
    return [{ text, append: p.value.append, lastChunk: p.value.lastChunk }];
  });
}

/** Status texts of the stream's status updates, in order. */
function statusTexts(events: StreamResponse[]): string[] {
  return events.flatMap((e) =>
    e.payload?.$case === 'statusUpdate' ? [messageText(e.payload.value.status?.message)] : [],
  );
}

function taskIdOf(events: StreamResponse[]): string {
  const p = events[0]?.payload;
  if (p?.$case === 'task') return p.value.id;
  if (p?.$case === 'statusUpdate' || p?.$case === 'artifactUpdate') return p.value.taskId;
  throw new Error(`no task in ${describeEvents(events).join(', ')}`);
}

async function stream(client: Client, text: string): Promise<{ events: StreamResponse[]; task: Task }> {
  const events: StreamResponse[] = [];
  for await (const e of client.sendMessageStream(sendRequest(text))) events.push(e);
  const task = await client.getTask({ tenant: '', id: taskIdOf(events) });
  return { events, task };
}

function toolMessages(messages: ChatMessage[]): ChatMessage[] {
  return messages.filter((m) => m.role === 'tool');
}

/** The value of one Prometheus series on the server's metrics listener (0 when absent). */
async function metricValue(t: TestServer, series: string): Promise<number> {
  const body = await (await fetch(`http://${t.server.metricsAddress}/metrics`)).text();
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

/** Rejects if `promise` has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('llm agent in agentd, with a scripted OpenAI-compatible model and a real MCP server', () => {
  let fake: FakeOpenAi;
  let t: TestServer;
  let assistant: Client;
  let bounded: Client;
  let wrongKey: Client;

  beforeAll(async () => {
    fake = await startFakeOpenAi('test-key');
    const llm = {
      kind: 'llm',
      baseUrl: fake.baseUrl,
      model: 'fake-model',
      apiKey: 'test-key',
      servers: ['everything'],
    };
    t = await startServer({
      agents: [
        { name: 'assistant', ...llm },
        { name: 'bounded', ...llm, maxSteps: 3, system: 'Be brief.', temperature: 0.2, maxOutputTokens: 300 },
        { name: 'wrong-key', ...llm, apiKey: 'not-the-key' },
      ],
      mcp: {
        servers: [{ name: 'everything', transport: 'stdio', command: 'node', args: [EVERYTHING, 'stdio'] }],
      },
    });
    assistant = await clientFor(t.agentUrl('assistant'));
    bounded = await clientFor(t.agentUrl('bounded'));
    wrongKey = await clientFor(t.agentUrl('wrong-key'));
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it('calls a real MCP tool for the model, feeds its result back, and streams the answer', async () => {
    fake.reset((_req, i) =>
      i === 0
        ? { toolCalls: [{ name: 'get-sum', arguments: { a: 2, b: 3 } }] }
        : { text: ['The ', 'sum ', 'is ', '5', '.'], delayMs: 80 },
    );
    const { events, task } = await stream(assistant, 'What is 2 + 3?');

    // What the model was asked, first with the tools, then with the tool's result.
    expect(fake.requests).toHaveLength(2);
    const [first, second] = fake.requests;
    expect(first?.headers.authorization).toBe('Bearer test-key');
    expect(first?.body).toMatchObject({
      model: 'fake-model',
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(first?.body.messages).toEqual([
      { role: 'system', content: 'You are a helpful assistant. Use the tools you are given when they help.' },
      { role: 'user', content: 'What is 2 + 3?' },
    ]);
    const sum = first?.body.tools?.find((tool) => tool.function.name === 'get-sum');
    expect(sum?.function).toMatchObject({
      description: 'Returns the sum of two numbers',
      parameters: { type: 'object', required: ['a', 'b'] },
    });
    expect(sum?.function.parameters).not.toHaveProperty('$schema');
    expect(first?.body.tools?.map((tool) => tool.function.name)).toContain('echo');
    const call = second?.body.messages.find((m) => m.role === 'assistant')?.tool_calls?.[0];
    expect(call?.function).toEqual({ name: 'get-sum', arguments: '{"a":2,"b":3}' });
    expect(toolMessages(second?.body.messages ?? [])).toEqual([
      { role: 'tool', tool_call_id: call?.id, content: SUM_TEXT },
    ]);

    // What the A2A client saw: progress, the tool round trip, the answer in chunks, done.
    expect(stateOf(events.at(-1) as StreamResponse)).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(statusTexts(events)).toEqual([
      'Asking fake-model',
      'Calling tool get-sum on everything',
      'Tool get-sum returned',
      'The sum is 5.',
    ]);
    const streamed = chunks(events);
    expect(streamed.map((c) => c.text).join('')).toBe('The sum is 5.');
    expect(streamed.length).toBeGreaterThanOrEqual(3); // 80 ms apart: not coalesced into one
    expect(streamed.map((c) => c.append)).toEqual(streamed.map((_, i) => i > 0));
    expect(streamed.map((c) => c.lastChunk)).toEqual(streamed.map((_, i) => i === streamed.length - 1));
    const order = describeEvents(events);
    expect(order.findIndex((e) => e.startsWith('artifact'))).toBeGreaterThan(
      statusTexts(events).indexOf('Tool get-sum returned'),
    );

    // What GetTask says afterwards: the answer, and the tokens both model calls used.
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(messageText(task.status?.message)).toBe('The sum is 5.');
    expect(artifactText(task, 'response')).toBe('The sum is 5.');
    expect(t.logs.find((l) => l.msg === 'model call' && l.task_id === task.id)).toMatchObject({
      level: 20,
      agent_name: 'assistant',
      model: 'fake-model',
      steps: 2,
      usage: { inputTokens: 22, outputTokens: 14, totalTokens: 36 },
      finish_reason: 'stop',
      outcome: 'ok',
    });
    expect(task.metadata?.['agentd.usage']).toEqual({
      inputTokens: 2 * DEFAULT_USAGE.prompt_tokens,
      outputTokens: 2 * DEFAULT_USAGE.completion_tokens,
      totalTokens: 2 * DEFAULT_USAGE.total_tokens,
      steps: 2,
      finishReason: 'stop',
    });
  });

  it('coalesces tokens that arrive faster than every 50 ms into a few chunks', async () => {
    const tokens = Array.from({ length: 300 }, (_, i) => `w${i} `);
    fake.reset(() => ({ text: tokens }));
    const { events, task } = await stream(assistant, 'Say a lot');

    const streamed = chunks(events);
    expect(streamed.map((c) => c.text).join('')).toBe(tokens.join(''));
    expect(streamed.length).toBeLessThanOrEqual(5);
    expect(streamed.at(-1)?.lastChunk).toBe(true);
    expect(artifactText(task, 'response')).toBe(tokens.join(''));
  });

  it('passes the system prompt, temperature and output limit of the config', async () => {
    fake.reset(() => ({ text: ['ok'] }));
    const { task } = await stream(bounded, 'hi');
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(fake.requests[0]?.body).toMatchObject({ temperature: 0.2, max_tokens: 300 });
    expect(fake.requests[0]?.body.messages[0]).toEqual({ role: 'system', content: 'Be brief.' });
  });

  it("lets the model see a tool's failure and recover from it", async () => {
    fake.reset((_req, i) =>
      i === 0
        ? { toolCalls: [{ name: 'get-sum', arguments: { a: 'two', b: 3 } }] }
        : { text: ['Those are not numbers.'] },
    );
    const { events, task } = await stream(assistant, 'What is two + 3?');

    const [toolResult] = toolMessages(fake.requests[1]?.body.messages ?? []);
    expect(toolResult?.content).toMatch(/^Error calling tool get-sum: Tool "get-sum": .*a/);
    expect(statusTexts(events)).toContain(toolResult?.content);
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(messageText(task.status?.message)).toBe('Those are not numbers.');
  });

  it('stops after maxSteps model calls when the model keeps calling tools, and fails the task', async () => {
    fake.reset(() => ({ toolCalls: [{ name: 'echo', arguments: { message: 'again' } }] }));
    const { events, task } = await stream(bounded, 'Loop forever');

    expect(fake.requests).toHaveLength(3);
    expect(toolMessages(fake.requests[2]?.body.messages ?? []).map((m) => m.content)).toEqual([
      'Echo: again',
      'Echo: again',
    ]);
    expect(task.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(messageText(task.status?.message)).toBe(
      'No answer after 3 model calls (maxSteps 3): the model was still calling tools',
    );
    expect(statusTexts(events).filter((s) => s === 'Calling tool echo on everything')).toHaveLength(3);
    expect(task.metadata?.['agentd.usage']).toEqual({
      inputTokens: 3 * DEFAULT_USAGE.prompt_tokens,
      outputTokens: 3 * DEFAULT_USAGE.completion_tokens,
      totalTokens: 3 * DEFAULT_USAGE.total_tokens,
      steps: 3,
      finishReason: 'tool-calls',
    });
  });

  it('fails with the provider URL and status when the API key is refused (401, not retried)', async () => {
    fake.reset(() => ({ text: ['unreachable'] }));
    const { task } = await stream(wrongKey, 'hi');
    expect(task.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(messageText(task.status?.message)).toBe(
      `Model provider ${fake.baseUrl}/chat/completions answered HTTP 401: Incorrect API key provided`,
    );
    expect(fake.requests).toHaveLength(0); // refused at the door, never scripted
  });

  it('retries a 500 twice, then fails naming the status and the attempts', async () => {
    fake.reset(() => ({ status: 500, error: 'The server had an error', headers: { 'retry-after-ms': '1' } }));
    const { task } = await stream(assistant, 'hi');
    expect(fake.requests).toHaveLength(3);
    expect(task.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(messageText(task.status?.message)).toBe(
      `Model provider ${fake.baseUrl}/chat/completions answered HTTP 500 (3 attempts): The server had an error`,
    );
  });

  it('retries after a 429 and completes', async () => {
    fake.reset((_req, i) =>
      i === 0
        ? { status: 429, error: 'Rate limit reached', headers: { 'retry-after-ms': '1' } }
        : { text: ['Fine now.'] },
    );
    const { task } = await stream(assistant, 'hi');
    expect(fake.requests).toHaveLength(2);
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(messageText(task.status?.message)).toBe('Fine now.');
  });

  it('fails readably on a malformed stream', async () => {
    fake.reset(() => ({ raw: 'data: {"choices": [{"delta": {"content": 42}}\n\ndata: [DONE]\n\n' }));
    const { task } = await stream(assistant, 'hi');
    expect(task.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(messageText(task.status?.message)).toMatch(
      new RegExp(
        `^Model provider ${fake.baseUrl} sent a response that could not be read: JSON parsing failed: `,
      ),
    );
  });

  it('cancel mid-stream: the task is CANCELED and the model connection is closed', async () => {
    fake.reset(() => ({ hang: ['Once ', 'upon ', 'a time'] }));
    const events: StreamResponse[] = [];
    let canceled: Promise<Task> | undefined;
    for await (const e of assistant.sendMessageStream(sendRequest('Tell me a long story'))) {
      events.push(e);
      if (e.payload?.$case === 'artifactUpdate' && !canceled)
        canceled = assistant.cancelTask({ tenant: '', id: e.payload.value.taskId, metadata: undefined });
    }
    expect((await canceled)?.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    expect(stateOf(events.at(-1) as StreamResponse)).toBe(TaskState.TASK_STATE_CANCELED);
    await within(
      fake.requests[0]?.abandoned ?? Promise.reject(new Error('no request')),
      5000,
      'the model connection closing',
    );
    const task = await assistant.getTask({ tenant: '', id: taskIdOf(events) });
    expect(task.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    // The last piece is held back for the final chunk, which never comes.
    expect(artifactText(task, 'response')).toMatch(/^Once (upon )?$/);
  });

  it('cancel during an MCP tool call: the task is CANCELED without waiting for the tool', async () => {
    fake.reset(() => ({
      toolCalls: [{ name: 'trigger-long-running-operation', arguments: { duration: 30, steps: 30 } }],
    }));
    const events: StreamResponse[] = [];
    let canceled: Promise<Task> | undefined;
    const started = Date.now();
    for await (const e of assistant.sendMessageStream(sendRequest('Take your time'))) {
      events.push(e);
      const calling =
        e.payload?.$case === 'statusUpdate' &&
        messageText(e.payload.value.status?.message).startsWith('Calling tool');
      if (calling && !canceled && e.payload?.$case === 'statusUpdate')
        canceled = assistant.cancelTask({ tenant: '', id: e.payload.value.taskId, metadata: undefined });
    }
    expect((await canceled)?.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(statusTexts(events)).not.toContain('Tool trigger-long-running-operation returned');
    expect(fake.requests).toHaveLength(1);
    await eventually(
      async () =>
        (await metricValue(
          t,
          'mcp_tool_calls_total{server="everything",tool="trigger-long-running-operation",status="canceled"}',
        )) === 1,
      5000,
      'the MCP call counted as canceled',
    );
  });
});

describe('LlmAgent as an executor', () => {
  let fake: FakeOpenAi;
  beforeAll(async () => {
    fake = await startFakeOpenAi('test-key');
  });
  afterAll(() => fake?.close());

  function agent(options: Partial<LlmAgentOptions> = {}, pool?: McpPool): LlmAgent {
    return new LlmAgent(pool, {
      name: 'assistant',
      baseUrl: fake.baseUrl,
      model: 'fake-model',
      apiKey: 'test-key',
      system: 'You are terse.',
      maxSteps: 5,
      servers: [],
      ...options,
    });
  }

  it('gives the model the earlier turns of the task, without its progress updates', async () => {
    fake.reset(() => ({ text: ['20.'] }));
    const first = userMessage('What is 2 + 3?');
    const progress: Message = {
      ...userMessage('Calling tool get-sum on everything'),
      role: Role.ROLE_AGENT,
      metadata: { 'agentd.llm': { event: 'tool-call', tool: 'get-sum' } },
    };
    const answer: Message = { ...userMessage('The sum is 5. Anything else?'), role: Role.ROLE_AGENT };
    const followUp = userMessage('Times 4?');
    const task = {
      ...taskFor(first, TaskState.TASK_STATE_INPUT_REQUIRED),
      history: [first, progress, answer, followUp],
    };

    const bus = new RecordingEventBus();
    await agent().execute(requestContext(followUp, task), bus);

    expect(fake.requests[0]?.body.messages).toEqual([
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'What is 2 + 3?' },
      { role: 'assistant', content: 'The sum is 5. Anything else?' },
      { role: 'user', content: 'Times 4?' },
    ]);
    expect(bus.statusStates.at(-1)).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(bus.statusTexts.at(-1)).toBe('20.');
    expect(bus.finishedCount).toBe(1);
  });

  it('fails readably when the provider cannot be reached', async () => {
    const closed = await startFakeOpenAi('test-key');
    const baseUrl = closed.baseUrl;
    await closed.close();
    const bus = new RecordingEventBus();
    await agent({ baseUrl, maxRetries: 0 }).execute(requestContext(userMessage('hi')), bus);
    expect(bus.statusStates.at(-1)).toBe(TaskState.TASK_STATE_FAILED);
    expect(bus.statusTexts.at(-1)).toMatch(
      new RegExp(`^Model provider ${baseUrl}/chat/completions is unreachable: .*ECONNREFUSED`),
    );
  });

  it('rejects a message without text', async () => {
    fake.reset(() => ({ text: ['never asked'] }));
    const bus = new RecordingEventBus();
    const message: Message = { ...userMessage(''), parts: [] };
    await agent().execute(requestContext(message), bus);
    expect(bus.statusStates).toEqual([TaskState.TASK_STATE_REJECTED]);
    expect(fake.requests).toHaveLength(0);
  });

  it('offers tools under names OpenAI accepts, unique across servers, honouring the allow-list', () => {
    const tool = (server: string, name: string): McpTool => ({
      server,
      name,
      definition: { name, inputSchema: { type: 'object' } },
      check: () => undefined,
    });
    const long = 'x'.repeat(70);
    const tools = [
      tool('a', 'get-sum'),
      tool('b', 'get-sum'),
      tool('a', 'files.read/v2'),
      tool('a', 'files_read_v2'),
      tool('a', long),
    ];
    // The pool's own selection (allow-list, server__name ids) over these tools.
    const pool = {
      tools: (servers?: readonly string[]) => tools.filter((x) => servers?.includes(x.server)),
      select: McpPool.prototype.select,
    };
    const names = (allow?: string[]): string[] =>
      agent({ servers: ['a', 'b'], tools: allow }, pool as unknown as McpPool)
        .modelTools()
        .map((x) => x.name);

    expect(names()).toEqual(['a__get-sum', 'b__get-sum', 'files_read_v2', 'files_read_v2_2', 'x'.repeat(64)]);
    expect(names(['b/get-sum', 'files.read/v2'])).toEqual(['get-sum', 'files_read_v2']);
    for (const n of names()) expect(n).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
    expect(sanitizeToolName('ünïcode tool')).toBe('_n_code_tool');
  });
});
