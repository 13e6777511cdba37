import { randomUUID } from 'node:crypto';
import { AgentCard, TaskState } from '@a2a-js/sdk';
import type { StreamResponse } from '@a2a-js/sdk';
import { LegacyJsonRpcTransport, LegacyRestTransport } from '@a2a-js/sdk/compat/v0_3/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  artifactText,
  asTask,
  chunkTexts,
  collect,
  countTo,
  describeEvents,
  firstTask,
  messageRequest,
  stateOf,
} from '../helpers/interop.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe('v0.3 clients (the SDK compat LegacyJsonRpcTransport)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(() => t.close());

  it('the card also advertises the JSON-RPC and HTTP+JSON endpoints as protocol 0.3 (and gRPC on the default agent)', async () => {
    const legacyOf = async (agent: string): Promise<string[][]> => {
      const card = AgentCard.fromJSON(
        await (await fetch(`${t.agentUrl(agent)}.well-known/agent-card.json`)).json(),
      );
      return card.supportedInterfaces
        .filter((i) => i.protocolVersion === '0.3')
        .map((i) => [i.protocolBinding, i.url]);
    };
    // echo is the default agent: v0.3 gRPC has no tenant and reaches it.
    expect(await legacyOf('echo')).toEqual([
      ['JSONRPC', t.agentUrl('echo')],
      ['HTTP+JSON', `${t.agentUrl('echo')}rest`],
      ['GRPC', t.server.grpcAddress],
    ]);
    expect(await legacyOf('countdown')).toEqual([
      ['JSONRPC', t.agentUrl('countdown')],
      ['HTTP+JSON', `${t.agentUrl('countdown')}rest`],
    ]);
  });

  it('sendMessage to echo completes and echoes the text', async () => {
    const transport = new LegacyJsonRpcTransport({ endpoint: t.agentUrl('echo') });
    expect(transport.protocolVersion).toBe('0.3');
    const request = messageRequest('hello from 0.3');
    const task = asTask(await transport.sendMessage(request));
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(artifactText(task, 'echo')).toBe('hello from 0.3');
    expect(task.history.some((m) => m.messageId === request.message?.messageId)).toBe(true);

    // The same task, read back over v0.3.
    const again = await transport.getTask({ tenant: '', id: task.id });
    expect(again.id).toBe(task.id);
    expect(again.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  });

  it('sendMessageStream on countdown streams the task, the chunks in order, and COMPLETED', async () => {
    const transport = new LegacyJsonRpcTransport({ endpoint: t.agentUrl('countdown') });
    const events = await collect(transport.sendMessageStream(messageRequest('count to 4')));
    const task = firstTask(events);
    expect(task.status?.state).toBe(TaskState.TASK_STATE_SUBMITTED);
    const last = events[events.length - 1] as StreamResponse;
    expect(stateOf(last), describeEvents(events).join(', ')).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(chunkTexts(events)).toEqual(countTo(4));
    const appends = events.flatMap((e) =>
      e.payload?.$case === 'artifactUpdate' ? [e.payload.value.append] : [],
    );
    expect(appends).toEqual([false, true, true, true]);
  });

  it('cancelTask works over v0.3 on a running task', async () => {
    const transport = new LegacyJsonRpcTransport({ endpoint: t.agentUrl('countdown') });
    const started = asTask(
      await transport.sendMessage(messageRequest('count to 6', { returnImmediately: true })),
    );
    const canceled = await transport.cancelTask({ tenant: '', id: started.id, metadata: undefined });
    expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    // Cancel is idempotent: the second answers with the canceled task.
    const again = await transport.cancelTask({ tenant: '', id: started.id, metadata: undefined });
    expect(again.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
  });
});

describe('v0.3 REST clients (the SDK compat LegacyRestTransport) at each agent REST base', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(() => t.close());

  it('send, get, stream and cancel', async () => {
    const echo = new LegacyRestTransport({ endpoint: `${t.agentUrl('echo')}rest` });
    const task = asTask(await echo.sendMessage(messageRequest('hello over v0.3 REST')));
    expect(artifactText(task, 'echo')).toBe('hello over v0.3 REST');
    expect((await echo.getTask({ tenant: '', id: task.id })).status?.state).toBe(
      TaskState.TASK_STATE_COMPLETED,
    );

    const countdown = new LegacyRestTransport({ endpoint: `${t.agentUrl('countdown')}rest` });
    const events = await collect(countdown.sendMessageStream(messageRequest('count to 3')));
    expect(chunkTexts(events)).toEqual(countTo(3));
    expect(stateOf(events[events.length - 1] as StreamResponse)).toBe(TaskState.TASK_STATE_COMPLETED);

    const started = asTask(
      await countdown.sendMessage(messageRequest('count to 500', { returnImmediately: true })),
    );
    const canceled = await countdown.cancelTask({ tenant: '', id: started.id, metadata: undefined });
    expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
  });

  it('push notification configs: set, list, get and delete', async () => {
    const rest = new LegacyRestTransport({ endpoint: `${t.agentUrl('countdown')}rest` });
    const task = asTask(await rest.sendMessage(messageRequest('count to 4 and ask')));
    const config = {
      tenant: '',
      taskId: task.id,
      id: 'hook-1',
      url: 'https://example.com/hook',
      token: 'secret',
      authentication: undefined,
    };
    expect(await rest.createTaskPushNotificationConfig(config)).toMatchObject({
      id: 'hook-1',
      url: config.url,
    });
    const listed = await rest.listTaskPushNotificationConfig({
      tenant: '',
      taskId: task.id,
      pageSize: 0,
      pageToken: '',
    });
    expect(listed.configs.map((c) => c.id)).toEqual(['hook-1']);
    expect(
      await rest.getTaskPushNotificationConfig({ tenant: '', taskId: task.id, id: 'hook-1' }),
    ).toMatchObject({
      token: '[redacted]', // write-only
    });
    await rest.deleteTaskPushNotificationConfig({ tenant: '', taskId: task.id, id: 'hook-1' });
    await expect(
      rest.getTaskPushNotificationConfig({ tenant: '', taskId: task.id, id: 'hook-1' }),
    ).rejects.toThrow();
  });

  it('on a /v1/ path, A2A-Version decides: 0.3 (or none) is v0.3, 2.0 is refused as v1.0 would be', async () => {
    const send = (version: string): Promise<Response> =>
      fetch(`${t.agentUrl('echo')}rest/v1/message:send`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'A2A-Version': version },
        body: JSON.stringify({
          request: { messageId: randomUUID(), role: 'ROLE_USER', content: [{ text: 'hi' }] },
        }),
      });
    const v03 = await send('0.3');
    expect(v03.status).toBe(201);
    expect(await v03.json()).toMatchObject({ task: { status: { state: 'TASK_STATE_COMPLETED' } } });
    const v2 = await send('2.0');
    expect(v2.status).toBe(400);
    expect(await v2.json()).toMatchObject({
      error: { status: 'FAILED_PRECONDITION', message: expect.stringContaining('"2.0"') },
    });
  });

  it('errors come in the v0.3 shape with their catalogue codes', async () => {
    const post = (agent: string, body: string): Promise<Response> =>
      fetch(`${t.url}/a2a/${agent}/rest/v1/message:send`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
    const bad = await post('echo', '{not json');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: -32700 });
    const nobody = await post('nobody', '{}');
    expect(nobody.status).toBe(404);
    expect(await nobody.json()).toMatchObject({ code: -32050, data: { agent: 'nobody' } });
    const missing = await fetch(`${t.agentUrl('echo')}rest/v1/tasks/no-such-task`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: -32001 });
  });
});

describe('a v0.3 REST stream', () => {
  it('gets keep-alives while idle and ends cleanly when the server shuts down', async () => {
    const t = await startServer({ server: { sseKeepAliveMs: 100 } });
    const rest = `${t.agentUrl('countdown')}rest`;
    // A task waiting for input: its stream has nothing to say until the next message.
    const paused = asTask(
      await new LegacyRestTransport({ endpoint: rest }).sendMessage(messageRequest('count to 4 and ask')),
    );
    expect(paused.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    const res = await fetch(`${rest}/v1/tasks/${paused.id}:subscribe`);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes(': keep-alive')) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended early: ${text}`);
      text += value;
    }
    expect(text).toContain('TASK_STATE_INPUT_REQUIRED');
    const closed = t.close();
    for (let next = await reader.read(); !next.done; next = await reader.read()) text += next.value;
    await closed;
  });
});

describe('v0.3 clients when compatibility is off', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ server: { compatV03: false } });
  });
  afterAll(() => t.close());

  it('are refused with a version error instead of being misread as v1.0', async () => {
    const transport = new LegacyJsonRpcTransport({ endpoint: t.agentUrl('echo') });
    await expect(transport.sendMessage(messageRequest('hello'))).rejects.toThrow(/v0\.3/);
    const card = AgentCard.fromJSON(
      await (await fetch(`${t.agentUrl('echo')}.well-known/agent-card.json`)).json(),
    );
    expect(card.supportedInterfaces.every((i) => i.protocolVersion === '1.0')).toBe(true);
  });

  it('a v0.3 REST request is refused the same way, and names the header a v1.0 "v1" tenant needs', async () => {
    const rest = new LegacyRestTransport({ endpoint: `${t.agentUrl('echo')}rest` });
    await expect(rest.sendMessage(messageRequest('hello'))).rejects.toThrow(/v0\.3 compatibility is off/);
    const res = await fetch(`${t.agentUrl('echo')}rest/v1/tasks/x`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      code: -32009,
      message: expect.stringContaining('A2A-Version: 1.0'),
    });
  });
});
