/**
 * Structured logs: a task's log lines carry the correlation fields (request id, agent,
 * task, context and message ids), the request id is echoed to the client, and secrets
 * never reach a line.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { DEMO_AGENTS, eventually, startServer, type TestServer } from '../helpers/server.js';
import { messageJson, rpc } from '../helpers/wire.js';

describe('task logs', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({
      agents: [...DEMO_AGENTS, { name: 'boom', kind: 'module', module: 'test/fixtures/throwing-agent.mjs' }],
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('carry request_id, agent_name, task_id, context_id and message_id', async () => {
    const message = messageJson('explode', { messageId: 'msg-for-the-logs' });
    const res = await rpc(t.url, 'boom', 'SendMessage', { message }, { 'x-request-id': 'req-abc-123' });
    const task = res.json.result.task as { id: string; contextId: string };
    await eventually(
      () => t.logs.some((l) => l.task_id === task.id && l.msg === 'agent failed'),
      5000,
      'the log line',
    );
    const line = t.logs.find((l) => l.task_id === task.id && l.msg === 'agent failed');
    expect(line).toMatchObject({
      request_id: 'req-abc-123',
      agent_name: 'boom',
      task_id: task.id,
      context_id: task.contextId,
      message_id: 'msg-for-the-logs',
      level: 50,
    });
  });

  it('echo the client request id, or make one up (a client value that is not a sane token is replaced)', async () => {
    const given = await fetch(`${t.url}/health`, { headers: { 'x-request-id': 'abc.DEF-42' } });
    expect(given.headers.get('x-request-id')).toBe('abc.DEF-42');
    const made = await fetch(`${t.url}/health`);
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const hostile = await fetch(`${t.url}/health`, { headers: { 'x-request-id': 'x'.repeat(500) } });
    expect(hostile.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('redaction', () => {
  it('authorization headers, API keys, tokens, passwords and secrets never reach a line', () => {
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        out += chunk.toString('utf8');
        cb();
      },
    });
    const logger = createLogger('info', sink);
    logger.info(
      {
        req: { headers: { authorization: 'Bearer sk-live-1', 'x-api-key': 'key-2' } },
        headers: { authorization: 'Basic dXNlcjpwYXNz', 'x-api-key': 'key-3' },
        webhook: { token: 'tok-4', authorization: 'Bearer tok-5' },
        redis: { password: 'pw-6' },
        provider: { apiKey: 'key-7', api_key: 'key-8', secret: 'sec-9', credentials: 'cred-10' },
      },
      'a request with every kind of secret',
    );
    for (const secret of [
      'sk-live-1',
      'key-2',
      'dXNlcjpwYXNz',
      'key-3',
      'tok-4',
      'tok-5',
      'pw-6',
      'key-7',
      'key-8',
      'sec-9',
      'cred-10',
    ]) {
      expect(out).not.toContain(secret);
    }
    const line = JSON.parse(out) as Record<string, Record<string, unknown>>;
    expect(line.webhook?.token).toBe('[redacted]');
    expect(line.msg).toBe('a request with every kind of secret');
  });
});

describe('task logs with tracing on', () => {
  it('also carry trace_id and span_id of the request span, in the caller trace', async () => {
    const t = await startServer({
      tracing: { enabled: true },
      agents: [{ name: 'boom', kind: 'module', module: 'test/fixtures/throwing-agent.mjs' }],
    });
    try {
      const traceId = '0af7651916cd43dd8448eb211c80319c';
      const res = await rpc(
        t.url,
        'boom',
        'SendMessage',
        { message: messageJson('explode') },
        { traceparent: `00-${traceId}-b7ad6b7169203331-01` },
      );
      const task = res.json.result.task as { id: string };
      await eventually(
        () => t.logs.some((l) => l.task_id === task.id && l.msg === 'agent failed'),
        5000,
        'the log line',
      );
      const line = t.logs.find((l) => l.task_id === task.id && l.msg === 'agent failed');
      expect(line?.trace_id).toBe(traceId);
      expect(line?.span_id).toMatch(/^[0-9a-f]{16}$/);
      expect(line?.span_id).not.toBe('b7ad6b7169203331'); // its own server span, child of the caller's
    } finally {
      await t.close();
    }
  });
});
