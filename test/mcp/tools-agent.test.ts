/**
 * The `tools` agent over real MCP servers from npm: the reference "everything" server
 * (`@modelcontextprotocol/server-everything`) over stdio, started and restarted by agentd.
 * A2A clients are the official SDK client; nothing is mocked.
 */
import { TaskState, type Task } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, describeEvents, stateOf } from '../helpers/interop.js';
import {
  EVERYTHING,
  metricValue,
  request,
  resultParts,
  send,
  statusText,
  textPart,
  texts,
  toolCall,
} from './helpers.js';
import { clientFor, waitForTaskState } from '../helpers/sdk-client.js';
import { eventually, startServer, type TestServer } from '../helpers/server.js';

describe('tools agent over the reference "everything" MCP server (stdio)', () => {
  let t: TestServer;
  let tools: Client;
  let slow: Client;

  beforeAll(async () => {
    t = await startServer({
      agents: [
        { name: 'tools', kind: 'tools', servers: ['everything'] },
        {
          name: 'slow',
          kind: 'tools',
          servers: ['slow'],
          tools: ['trigger-long-running-operation', 'get-sum'],
        },
      ],
      mcp: {
        reconnectBaseMs: 50,
        reconnectMaxMs: 200,
        servers: [
          { name: 'everything', transport: 'stdio', command: 'node', args: [EVERYTHING, 'stdio'] },
          {
            name: 'slow',
            transport: 'stdio',
            command: 'node',
            args: [EVERYTHING, 'stdio'],
            timeoutSeconds: 0.5,
          },
        ],
        breaker: { failures: 2, halfOpenAfterSeconds: 1 },
      },
    });
    tools = await clientFor(t.agentUrl('tools'));
    slow = await clientFor(t.agentUrl('slow'));
  });
  afterAll(() => t?.close());

  it('publishes one skill per tool, with its description and input schema', async () => {
    const card = await tools.getAgentCard();
    const sum = card.skills.find((s) => s.id === 'get-sum');
    expect(sum?.description).toBe('Returns the sum of two numbers');
    expect(sum?.tags).toContain('mcp:everything');
    expect(JSON.parse(sum?.examples[0] ?? '{}')).toEqual({ tool: 'get-sum', arguments: { a: 0, b: 0 } });
    const ext = card.capabilities?.extensions.find(
      (e) => e.uri === 'https://agentd.dev/extensions/mcp-tools/v1',
    );
    expect(ext?.params?.tools['get-sum']).toMatchObject({
      server: 'everything',
      tool: 'get-sum',
      inputSchema: { type: 'object', required: ['a', 'b'] },
    });
    const slowCard = await slow.getAgentCard();
    expect(slowCard.skills.map((s) => s.id).sort()).toEqual(['get-sum', 'trigger-long-running-operation']);
  });

  it('calls a tool from a data part and returns its content as an artifact', async () => {
    const task = await send(tools, toolCall('get-sum', { a: 2, b: 3 }));
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(texts(task)).toEqual(['The sum of 2 and 3 is 5.']);
    expect(task.artifacts[0]?.name).toBe('get-sum');
  });

  it('accepts the plain-text forms: "<tool> {json}" and "<tool> key=value"', async () => {
    const json = await send(tools, request([textPart('get-sum {"a": 10, "b": 5}')]));
    expect(texts(json)).toEqual(['The sum of 10 and 5 is 15.']);
    const pairs = await send(tools, request([textPart('echo message="hello there"')]));
    expect(texts(pairs)).toEqual(['Echo: hello there']);
  });

  it('maps images to file parts with their media type, and structured content to a data part', async () => {
    const image = await send(tools, toolCall('get-tiny-image', {}));
    const file = resultParts(image).find((p) => p.content?.$case === 'raw');
    expect(file?.mediaType).toBe('image/png');
    expect(file?.content?.$case === 'raw' && file.content.value.subarray(1, 4).toString('latin1')).toBe(
      'PNG',
    );

    const structured = await send(tools, toolCall('get-structured-content', { location: 'New York' }));
    const data = resultParts(structured).find((p) => p.content?.$case === 'data');
    expect(data?.mediaType).toBe('application/json');
    expect(data?.content?.$case === 'data' && data.content.value).toMatchObject({
      temperature: expect.any(Number),
    });
  });

  it('rejects an unknown tool, listing the tools there are', async () => {
    const task = await send(tools, toolCall('no-such-tool', {}));
    expect(task.status?.state).toBe(TaskState.TASK_STATE_REJECTED);
    expect(statusText(task)).toMatch(/unknown tool "no-such-tool"; available tools: .*get-sum/);
  });

  it('rejects arguments that fail the input schema, naming the field, without calling the tool', async () => {
    const task = await send(tools, toolCall('get-sum', { a: 'two', b: 3 }));
    expect(task.status?.state).toBe(TaskState.TASK_STATE_REJECTED);
    expect(statusText(task)).toMatch(/argument "a" must be number/);
    const missing = await send(tools, toolCall('get-sum', { a: 1 }));
    expect(statusText(missing)).toMatch(/missing required argument "b"/);
    const calls = await metricValue(
      t,
      'mcp_tool_calls_total{server="everything",tool="get-sum",status="invalid_arguments"}',
    );
    expect(calls).toBeGreaterThanOrEqual(2);
  });

  it("streams the tool's progress notifications as WORKING updates", async () => {
    const events = await collect(
      tools.sendMessageStream(toolCall('trigger-long-running-operation', { duration: 0.3, steps: 3 })),
    );
    const progress = events
      .filter((e) => e.payload?.$case === 'statusUpdate' && stateOf(e) === TaskState.TASK_STATE_WORKING)
      .map((e) =>
        e.payload?.$case === 'statusUpdate' ? e.payload.value.status?.message?.parts[0] : undefined,
      )
      .map((p) => (p?.content?.$case === 'text' ? p.content.value : ''));
    // The server's last notification races its result, and the official client drops a
    // notification that arrives after it settled the call: the last step may be missing.
    expect(progress.slice(0, 3)).toEqual([
      'Calling trigger-long-running-operation on everything',
      '1/3',
      '2/3',
    ]);
    expect(progress.slice(3)).toEqual(progress.length === 4 ? ['3/3'] : []);
    expect(stateOf(events.at(-1) as never), describeEvents(events).join(' ')).toBe(
      TaskState.TASK_STATE_COMPLETED,
    );
  });

  it('cancels the in-flight MCP call when the A2A task is canceled', async () => {
    const started = await send(
      tools,
      toolCall('trigger-long-running-operation', { duration: 30, steps: 30 }, true),
    );
    await waitForTaskState(tools, started.id, TaskState.TASK_STATE_WORKING);
    const canceled = await tools.cancelTask({ tenant: '', id: started.id, metadata: undefined });
    expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    await eventually(
      async () =>
        (await metricValue(
          t,
          'mcp_tool_calls_total{server="everything",tool="trigger-long-running-operation",status="canceled"}',
        )) === 1,
    );
    const after = await send(tools, toolCall('get-sum', { a: 1, b: 1 }));
    expect(texts(after)).toEqual(['The sum of 1 and 1 is 2.']);
  });

  it('fails a task whose tool hangs past the timeout, and the server stays usable', async () => {
    const task = await send(slow, toolCall('trigger-long-running-operation', { duration: 30, steps: 1 }));
    expect(task.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(statusText(task)).toBe(
      'Tool "trigger-long-running-operation" on MCP server "slow" did not answer within 0.5 s',
    );
    const next = await send(slow, toolCall('get-sum', { a: 4, b: 4 }));
    expect(texts(next)).toEqual(['The sum of 4 and 4 is 8.']);
  });

  it('opens the breaker after consecutive failures (fast, clear error), then half-opens and recovers', async () => {
    for (let i = 0; i < 2; i++) {
      const task = await send(slow, toolCall('trigger-long-running-operation', { duration: 30, steps: 1 }));
      expect(statusText(task)).toMatch(/did not answer within 0.5 s/);
    }
    const started = performance.now();
    const fast = await send(slow, toolCall('get-sum', { a: 1, b: 2 }));
    expect(fast.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(statusText(fast)).toMatch(
      /MCP server "slow" is failing: its circuit breaker opened after 2 consecutive failed calls/,
    );
    expect(performance.now() - started).toBeLessThan(400); // did not wait for the 0.5 s timeout
    expect(t.server.mcp?.server('slow')?.circuit).toBe('open');
    // Half-open after 1 s: the next call goes through, succeeds, and closes the circuit.
    let recovered: Task | undefined;
    for (const deadline = Date.now() + 5000; !recovered && Date.now() < deadline;) {
      const task = await send(slow, toolCall('get-sum', { a: 1, b: 2 }));
      if (task.status?.state === TaskState.TASK_STATE_COMPLETED) recovered = task;
      else {
        expect(statusText(task)).toMatch(/circuit breaker opened/); // fails fast until half-open
        await new Promise((r) => setTimeout(r, 100)); // the breaker's half-open timer is the only event
      }
    }
    expect(texts(recovered as Task)).toEqual(['The sum of 1 and 2 is 3.']);
    expect(t.server.mcp?.server('slow')?.circuit).toBe('closed');
  });

  it('fails the task clearly when the stdio server crashes mid-call, restarts it, and the next call works', async () => {
    const connection = t.server.mcp?.server('everything');
    const pid = connection?.pid;
    expect(pid).toBeGreaterThan(0);
    const started = await send(
      tools,
      toolCall('trigger-long-running-operation', { duration: 30, steps: 30 }, true),
    );
    await waitForTaskState(tools, started.id, TaskState.TASK_STATE_WORKING);
    process.kill(pid as number, 'SIGKILL'); // the MCP server agentd started for this test
    const failed = await waitForTaskState(tools, started.id, TaskState.TASK_STATE_FAILED);
    expect(statusText(failed)).toMatch(
      /MCP server "everything" closed the connection during the call to "trigger-long-running-operation" \(the server process exited; it is being restarted\)/,
    );
    await eventually(() => connection?.state === 'ready' && connection.pid !== pid, 10_000);
    const after = await send(tools, toolCall('get-sum', { a: 20, b: 22 }));
    expect(texts(after)).toEqual(['The sum of 20 and 22 is 42.']);
    const ready = await fetch(`${t.url}/ready`);
    expect(ready.status).toBe(200);
  });

  it('counts calls per server, tool and status, and times them', async () => {
    const body = await (await fetch(`http://${t.server.metricsAddress}/metrics`)).text();
    expect(body).toMatch(/mcp_tool_calls_total\{server="everything",tool="get-sum",status="success"\} \d+/);
    expect(body).toMatch(
      /mcp_tool_calls_total\{server="slow",tool="trigger-long-running-operation",status="timeout"\} [3-9]/,
    );
    expect(body).toMatch(/mcp_tool_calls_total\{server="slow",tool="get-sum",status="unavailable"\} \d+/);
    expect(body).toMatch(
      /mcp_tool_duration_seconds_bucket\{server="everything",tool="get-sum",le="0.1"\} \d+/,
    );
  });

  it('lists the servers, their state and tools at /api/v1/mcp/servers', async () => {
    const res = (await (await fetch(`${t.url}/api/v1/mcp/servers`)).json()) as {
      servers: Array<{ name: string; state: string; transport: string; tools: string[] }>;
    };
    expect(res.servers.map((s) => [s.name, s.state, s.transport])).toEqual([
      ['everything', 'ready', 'stdio'],
      ['slow', 'ready', 'stdio'],
    ]);
    expect(res.servers[0]?.tools).toContain('get-sum');
  });
});

describe('tools agent whose MCP server changes its tool list', () => {
  let t: TestServer;
  let client: Client;
  beforeAll(async () => {
    t = await startServer({
      agents: [{ name: 'changing', kind: 'tools', servers: ['changing'] }],
      mcp: {
        servers: [
          {
            name: 'changing',
            transport: 'stdio',
            command: 'node',
            args: [resolve('test/fixtures/changing-mcp-server.mjs')],
          },
        ],
      },
    });
    client = await clientFor(t.agentUrl('changing'));
  });
  afterAll(() => t?.close());

  it('re-lists tools on notifications/tools/list_changed: the new tool is a skill and can be called', async () => {
    expect((await client.getAgentCard()).skills.map((s) => s.id)).toEqual(['add_tool']);
    const added = await send(client, toolCall('add_tool', { name: 'greet' }));
    expect(texts(added)).toEqual(['added greet']);
    await eventually(
      async () => (await clientFor(t.agentUrl('changing'))).getAgentCard().then((c) => c.skills.length === 2),
      5000,
      'the card to list the new tool',
    );
    const card = await (await clientFor(t.agentUrl('changing'))).getAgentCard();
    expect(card.skills.map((s) => s.id)).toEqual(['add_tool', 'greet']);
    const greet = await send(client, toolCall('greet', {}));
    expect(texts(greet)).toEqual(['hello from greet']);
  });
});
