/**
 * Free-form values in a request (metadata, data parts) and ids are bounded at the boundary,
 * on every transport: a value nested too deep or an id too long is refused with
 * INVALID_PARAMS naming the field, and is never stored, so it cannot break a later
 * ListTasks or GetTask.
 */
import { TaskState } from '@a2a-js/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageRequest } from '../helpers/interop.js';
import { clientFor } from '../helpers/sdk-client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { messageJson, postRpc, rest, rpc, rpcBody, type Json } from '../helpers/wire.js';

function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: true };
  for (let i = 0; i < depth; i++) value = { n: value };
  return value;
}

describe('request limits', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(() => t.close());

  it('metadata nested 4,500 levels is refused over JSON-RPC, and ListTasks still answers', async () => {
    // As text: JSON.stringify itself overflows the stack on a value this deep.
    const deep = `${'{"n":'.repeat(4500)}{}${'}'.repeat(4500)}`;
    const body = JSON.stringify(rpcBody('SendMessage', { message: messageJson('hi', { metadata: '@' }) }));
    const res = await postRpc(t.url, 'echo', body.replace('"@"', deep));
    expect(res.status).toBe(200);
    const error = (res.json as Json).error;
    expect(error.code).toBe(-32602);
    expect(error.message).toMatch(/^message\.metadata: is nested more than 32 levels deep \(at \.n\.n/);
    const listed = await rpc(t.url, 'echo', 'ListTasks', {});
    expect(listed.status).toBe(200);
    expect((listed.json as Json).result.tasks).toEqual([]);
  });

  it('over REST the same is a 400 naming the field', async () => {
    const res = await rest(t.url, 'echo', 'POST', '/message:send', {
      message: messageJson('hi', { parts: [{ data: nested(40) }] }),
    });
    expect(res.status).toBe(400);
    expect((res.json as Json).error.message).toMatch(
      /^message\.parts\[0\]\.data: is nested more than 32 levels deep/,
    );
    expect((await rest(t.url, 'echo', 'GET', '/tasks')).status).toBe(200);
  });

  it('request metadata and part metadata are bounded too', async () => {
    const top = await rpc(t.url, 'echo', 'SendMessage', { message: messageJson('hi'), metadata: nested(33) });
    expect((top.json as Json).error.message).toMatch(/^metadata: is nested more than 32 levels deep/);
    const part = await rpc(t.url, 'echo', 'SendMessage', {
      message: messageJson('hi', { parts: [{ text: 'x', metadata: nested(33) }] }),
    });
    expect((part.json as Json).error.message).toMatch(
      /^message\.parts\[0\]\.metadata: is nested more than 32/,
    );
  });

  it('32 levels are accepted and come back as sent', async () => {
    const metadata = nested(31);
    const res = await rpc(t.url, 'echo', 'SendMessage', { message: messageJson('hi', { metadata }) });
    const task = (res.json as Json).result.task;
    expect(task.status.state).toBe('TASK_STATE_COMPLETED');
    expect(task.history[0].metadata).toEqual(metadata);
  });

  it('over gRPC a deep value is INVALID_ARGUMENT naming the field', async () => {
    const client = await clientFor(t.agentUrl('echo'), 'GRPC');
    const request = messageRequest('hi');
    if (request.message) request.message.metadata = nested(40);
    await expect(client.sendMessage(request)).rejects.toThrow(
      /message\.metadata: is nested more than 32 levels/,
    );
    const ok = await client.sendMessage(messageRequest('fine'));
    expect('status' in ok && ok.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  });

  it('an id longer than 1,024 characters is refused, naming the field and the limit', async () => {
    const long = 'x'.repeat(100_000);
    const get = await rpc(t.url, 'echo', 'GetTask', { id: long });
    const error = (get.json as Json).error;
    expect(error.code).toBe(-32602);
    expect(error.message).toBe('id: is 100000 characters long; at most 1024 are allowed');
    const send = await rpc(t.url, 'echo', 'SendMessage', { message: messageJson('hi', { messageId: long }) });
    expect((send.json as Json).error.message).toBe(
      'message.messageId: is 100000 characters long; at most 1024 are allowed',
    );
  });
});
