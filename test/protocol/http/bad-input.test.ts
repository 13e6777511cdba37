/**
 * Every bad request of the catalogue, one test each, on both HTTP bindings, asserting the
 * exact wire shape: the JSON-RPC error object with its ErrorInfo (A2A §9.5, §5.4) and the
 * HTTP+JSON `google.rpc.Status` body (§11.6), with the offending field named.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCase, JSONRPC_CASES, REST_CASES, type BadRequestContext } from '../../helpers/bad-requests.js';
import { startServer, type TestServer } from '../../helpers/server.js';
import { messageJson, rest, rpc } from '../../helpers/wire.js';

let t: TestServer;
let ctx: BadRequestContext;

beforeAll(async () => {
  t = await startServer();
  const res = await rpc(t.url, 'echo', 'SendMessage', { message: messageJson('finished') });
  expect(res.json.result.task.status.state).toBe('TASK_STATE_COMPLETED');
  ctx = { url: t.url, agent: 'echo', finishedTaskId: res.json.result.task.id as string };
});
afterAll(() => t.close());

describe('JSON-RPC bad input', () => {
  for (const c of JSONRPC_CASES) {
    it(c.name, async () => {
      checkCase(c, await c.send(ctx));
    });
  }

  it('the same requests, well-formed, succeed (the cases fail for the reason they name)', async () => {
    const ok = await rpc(
      t.url,
      'echo',
      'GetTask',
      { id: ctx.finishedTaskId, historyLength: 0 },
      { 'a2a-version': '1.0' },
    );
    expect(ok.status).toBe(200);
    expect(ok.json.result.id).toBe(ctx.finishedTaskId);
    const list = await rpc(t.url, 'echo', 'ListTasks', { pageSize: 100 });
    expect(list.json.result.tasks.length).toBeGreaterThan(0);
    const sent = await rpc(t.url, 'echo', 'SendMessage', {
      message: messageJson('x', { parts: [{ text: 'ok' }, { data: { a: 1 } }] }),
    });
    expect(sent.json.result.task.status.state).toBe('TASK_STATE_COMPLETED');
  });
});

describe('HTTP+JSON bad input', () => {
  for (const c of REST_CASES) {
    it(c.name, async () => {
      checkCase(c, await c.send(ctx));
    });
  }

  it('the same requests, well-formed, succeed (the cases fail for the reason they name)', async () => {
    const ok = await rest(
      t.url,
      'echo',
      'GET',
      `/tasks/${ctx.finishedTaskId}?historyLength=0&A2A-Version=1.0`,
    );
    expect(ok.status).toBe(200);
    expect(ok.json.id).toBe(ctx.finishedTaskId);
    const list = await rest(
      t.url,
      'echo',
      'GET',
      '/tasks?pageSize=100&status=TASK_STATE_COMPLETED&includeArtifacts=true',
    );
    expect(list.status).toBe(200);
    expect(list.json.tasks.map((x: { id: string }) => x.id)).toContain(ctx.finishedTaskId);
    const sent = await rest(
      t.url,
      'echo',
      'POST',
      '/message:send',
      { message: messageJson('x') },
      { 'a2a-version': '1.0' },
    );
    expect(sent.status).toBe(200);
    expect(sent.json.task.status.state).toBe('TASK_STATE_COMPLETED');
  });
});
