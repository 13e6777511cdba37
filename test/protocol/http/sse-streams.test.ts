/**
 * Server-Sent Events on both bindings, read off the wire: headers, `id:` lines, keep-alive
 * comments, resume with Last-Event-ID, and that a client disconnecting mid-stream leaves
 * no open stream and no event-log subscriber behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_AGENTS, eventually, startServer, type TestServer } from '../../helpers/server.js';
import {
  eventState,
  messageJson,
  rest,
  restStream,
  rpc,
  rpcStream,
  streamPayload,
  type SseFrame,
  type SseReader,
} from '../../helpers/wire.js';

let t: TestServer;

beforeAll(async () => {
  t = await startServer({
    agents: [...DEMO_AGENTS, { name: 'slow', kind: 'countdown', stepMs: 1000 }],
    server: { sseKeepAliveMs: 100 },
  });
});
afterAll(() => t.close());

/** Starts a task without waiting for it (returnImmediately); returns its id. */
async function startTask(agent: string, text: string): Promise<string> {
  const res = await rpc(t.url, agent, 'SendMessage', {
    message: messageJson(text),
    configuration: { returnImmediately: true },
  });
  expect(res.json.result?.task?.id, res.text).toBeTypeOf('string');
  return res.json.result.task.id as string;
}

async function cancel(agent: string, id: string): Promise<void> {
  const res = await rpc(t.url, agent, 'CancelTask', { id });
  expect(res.json.result?.status?.state, res.text).toBe('TASK_STATE_CANCELED');
}

function expectSseHeaders(s: SseReader): void {
  expect(s.response.status).toBe(200);
  expect(s.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  expect(s.response.headers.get('cache-control')).toBe('no-cache');
}

/** Every event has a numeric `id:`, strictly increasing by one (the task's event sequence). */
function expectConsecutiveIds(events: SseFrame[], first: number): void {
  expect(events.length).toBeGreaterThan(0);
  events.forEach((e, i) => {
    expect(e.id, JSON.stringify(e)).toMatch(/^\d+$/);
    expect(Number(e.id)).toBe(first + i);
  });
}

describe('SSE framing', () => {
  it('JSON-RPC SendStreamingMessage: headers, id lines, JSON-RPC envelopes, closes after the final state', async () => {
    const s = await rpcStream(t.url, 'countdown', 'SendStreamingMessage', {
      message: messageJson('count to 3'),
    });
    expectSseHeaders(s);
    const events = await s.rest();
    expectConsecutiveIds(events, 1);
    for (const e of events) {
      const json = JSON.parse(e.data ?? '');
      expect(json).toMatchObject({ jsonrpc: '2.0' });
      expect(json.result).toBeTypeOf('object');
      expect(e.event).toBeUndefined();
    }
    expect(Object.keys(streamPayload(events[0] as SseFrame))).toEqual(['task']);
    expect(eventState(events[events.length - 1] as SseFrame)).toBe('TASK_STATE_COMPLETED');
    const artifacts = events.map(streamPayload).filter((p) => p.artifactUpdate);
    expect(artifacts.map((p) => p.artifactUpdate.artifact.parts[0].text)).toEqual(['1\n', '2\n', '3\n']);
  });

  it('HTTP+JSON message:stream: headers, id lines, bare StreamResponse objects', async () => {
    const s = await restStream(t.url, 'countdown', 'POST', '/message:stream', {
      message: messageJson('count to 2'),
    });
    expectSseHeaders(s);
    const events = await s.rest();
    expectConsecutiveIds(events, 1);
    for (const e of events) {
      const json = JSON.parse(e.data ?? '');
      expect(json.jsonrpc).toBeUndefined();
      expect(Object.keys(json)).toHaveLength(1);
      expect(['task', 'message', 'statusUpdate', 'artifactUpdate']).toContain(Object.keys(json)[0]);
    }
    expect(eventState(events[events.length - 1] as SseFrame)).toBe('TASK_STATE_COMPLETED');
  });

  for (const binding of ['JSON-RPC', 'HTTP+JSON'] as const) {
    it(`${binding}: an idle stream gets ": keep-alive" comments (sseKeepAliveMs 100)`, async () => {
      const id = await startTask('slow', 'count to 50');
      const s =
        binding === 'JSON-RPC'
          ? await rpcStream(t.url, 'slow', 'SubscribeToTask', { id })
          : await restStream(t.url, 'slow', 'POST', `/tasks/${id}:subscribe`);
      expectSseHeaders(s);
      const first = await s.nextFrame();
      expect(first?.data).toBeDefined();
      // The agent's next step is a second away; the keep-alive must come before it (only
      // the immediate WORKING status may precede the comment).
      let frame = await s.nextFrame();
      while (frame && frame.data !== undefined) {
        expect(streamPayload(frame).artifactUpdate, 'a step arrived before any keep-alive').toBeUndefined();
        frame = await s.nextFrame();
      }
      expect(frame).toEqual({ comment: 'keep-alive' });
      s.close();
      await cancel('slow', id);
    });
  }
});

/** Streams of earlier tests are released (asynchronously, once the server sees the close). */
function settled(): Promise<void> {
  return eventually(
    () => t.server.stats().openStreams === 0 && t.server.stats().subscribers === 0,
    5000,
    'no open streams and no subscribers',
  );
}

describe('client disconnect mid-stream', () => {
  it('leaves no open stream and no event-log subscriber (JSON-RPC stream + HTTP+JSON subscribe)', async () => {
    await settled();
    const rpcStreamReader = await rpcStream(t.url, 'countdown', 'SendStreamingMessage', {
      message: messageJson('count to 1000'),
    });
    const first = await rpcStreamReader.nextEvent();
    const streamedTaskId = streamPayload(first as SseFrame).task.id as string;

    const subscribedTaskId = await startTask('countdown', 'count to 1000');
    const restReader = await restStream(t.url, 'countdown', 'POST', `/tasks/${subscribedTaskId}:subscribe`);
    expectSseHeaders(restReader);
    expect(streamPayload((await restReader.nextEvent()) as SseFrame).task.id).toBe(subscribedTaskId);

    // Both streams are counted while open (so the zeros below mean something).
    expect(t.server.stats()).toMatchObject({ openStreams: 2, subscribers: 2 });

    rpcStreamReader.close();
    restReader.close();
    await settled();

    // A disconnect is not a cancel: both tasks are still working, and can be canceled.
    for (const id of [streamedTaskId, subscribedTaskId]) {
      const got = await rpc(t.url, 'countdown', 'GetTask', { id });
      expect(got.json.result.status.state).toBe('TASK_STATE_WORKING');
      await cancel('countdown', id);
    }
    expect(t.server.stats()).toMatchObject({ openStreams: 0, subscribers: 0 });
  });

  it('leaves nothing behind when many clients come and go on the same task', async () => {
    await settled();
    const id = await startTask('countdown', 'count to 1000');
    const readers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        i % 2 === 0
          ? rpcStream(t.url, 'countdown', 'SubscribeToTask', { id })
          : restStream(t.url, 'countdown', 'GET', `/tasks/${id}:subscribe`),
      ),
    );
    await Promise.all(readers.map((r) => r.nextEvent()));
    expect(t.server.stats()).toMatchObject({ openStreams: 10, subscribers: 10 });
    for (const r of readers) r.close();
    await settled();
    await cancel('countdown', id);
  });
});

describe('resume with Last-Event-ID', () => {
  /** Runs a countdown to completion over JSON-RPC and returns every event. */
  async function finishedRun(n: number): Promise<{ id: string; events: SseFrame[] }> {
    const s = await rpcStream(t.url, 'countdown', 'SendStreamingMessage', {
      message: messageJson(`count to ${n}`),
    });
    const events = await s.rest();
    expect(eventState(events[events.length - 1] as SseFrame)).toBe('TASK_STATE_COMPLETED');
    return { id: streamPayload(events[0] as SseFrame).task.id as string, events };
  }

  it('JSON-RPC SubscribeToTask replays exactly the events after the id, in order, then ends', async () => {
    const { id, events } = await finishedRun(4);
    const cut = 3;
    const s = await rpcStream(
      t.url,
      'countdown',
      'SubscribeToTask',
      { id },
      { 'last-event-id': String(cut) },
    );
    expectSseHeaders(s);
    const replay = await s.rest();
    expect(replay.map((e) => e.id)).toEqual(events.slice(cut).map((e) => e.id));
    expect(replay.map(streamPayload)).toEqual(events.slice(cut).map(streamPayload));
  });

  it('HTTP+JSON :subscribe replays exactly the events after the id, in order, then ends', async () => {
    const { id, events } = await finishedRun(4);
    const cut = 5;
    const s = await restStream(t.url, 'countdown', 'POST', `/tasks/${id}:subscribe`, undefined, {
      'last-event-id': String(cut),
    });
    expectSseHeaders(s);
    const replay = await s.rest();
    expect(replay.map((e) => e.id)).toEqual(events.slice(cut).map((e) => e.id));
    expect(replay.map((e) => JSON.parse(e.data ?? ''))).toEqual(events.slice(cut).map(streamPayload));
  });

  it('Last-Event-ID 0 replays the whole task; the last id replays nothing', async () => {
    const { id, events } = await finishedRun(2);
    const all = await (
      await rpcStream(t.url, 'countdown', 'SubscribeToTask', { id }, { 'last-event-id': '0' })
    ).rest();
    expect(all.map((e) => e.id)).toEqual(events.map((e) => e.id));
    const lastId = events[events.length - 1]?.id as string;
    const none = await restStream(t.url, 'countdown', 'GET', `/tasks/${id}:subscribe`, undefined, {
      'last-event-id': lastId,
    });
    expectSseHeaders(none);
    expect(await none.rest()).toEqual([]);
  });

  it('a live stream cut mid-way resumes on the other binding with no gap and no duplicate', async () => {
    const first = await restStream(t.url, 'countdown', 'POST', '/message:stream', {
      message: messageJson('count to 8'),
    });
    const seen: SseFrame[] = [];
    for (let i = 0; i < 3; i++) seen.push((await first.nextEvent()) as SseFrame);
    const id = streamPayload(seen[0] as SseFrame).task.id as string;
    first.close();
    const lastId = seen[seen.length - 1]?.id as string;
    const resumed = await rpcStream(
      t.url,
      'countdown',
      'SubscribeToTask',
      { id },
      { 'last-event-id': lastId },
    );
    const rest2 = await resumed.rest();
    const all = [...seen, ...rest2];
    expectConsecutiveIds(all, 1);
    expect(eventState(all[all.length - 1] as SseFrame)).toBe('TASK_STATE_COMPLETED');
    const counts = all.map((e) => streamPayload(e)).filter((p) => p.artifactUpdate);
    expect(counts.map((p) => p.artifactUpdate.artifact.parts[0].text)).toEqual(
      Array.from({ length: 8 }, (_, i) => `${i + 1}\n`),
    );
    // The resumed replay equals the task's full log from that point.
    const full = await (
      await rpcStream(t.url, 'countdown', 'SubscribeToTask', { id }, { 'last-event-id': lastId })
    ).rest();
    expect(full.map(streamPayload)).toEqual(rest2.map(streamPayload));
    // And the stored task agrees with the stream.
    const got = await rest(t.url, 'countdown', 'GET', `/tasks/${id}`);
    const stored = got.json.artifacts[0].parts.map((p: { text: string }) => p.text).join('');
    expect(stored).toBe(Array.from({ length: 8 }, (_, i) => `${i + 1}\n`).join(''));
    expect(got.json.status.state).toBe('TASK_STATE_COMPLETED');
  });
});
