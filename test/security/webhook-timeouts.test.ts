/**
 * Webhooks that stall, on loopback (allowed with push.allow): one that accepts the
 * connection and never answers, one that answers its headers and then never finishes the
 * body. Each delivery attempt is abandoned after push.timeoutMs, retried up to
 * push.maxAttempts, then logged and counted as failed; the task is not held up, the server
 * keeps answering meanwhile, and every connection agentd opened is closed (the receiver
 * sees each of its sockets end).
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startServer, type TestServer } from '../helpers/server.js';
import { rpc } from '../helpers/wire.js';

const TIMEOUT_MS = 300;
const MAX_ATTEMPTS = 2;

/** One connection agentd opened to the receiver. */
interface Connection {
  /** When its first bytes (a request) arrived; undefined while none did. */
  requestAt: number | undefined;
  /** Everything agentd sent on it. */
  data: string;
  /** When the receiver saw it close (undefined while open). */
  closedAt: number | undefined;
}

/** How the receiver misbehaves once a whole request has arrived. */
type Stall = 'never-answer' | 'stall-body';

interface StallingReceiver {
  readonly url: string;
  readonly connections: readonly Connection[];
  close(): Promise<void>;
}

/** A raw TCP webhook on loopback that reads each request and then stalls as told. */
async function stallingReceiver(stall: Stall): Promise<StallingReceiver> {
  const connections: Connection[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    const conn: Connection = { requestAt: undefined, data: '', closedAt: undefined };
    connections.push(conn);
    sockets.add(socket);
    let answered = false;
    socket.on('data', (d: Buffer) => {
      conn.requestAt ??= Date.now();
      conn.data += d.toString('utf8');
      const end = conn.data.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: *(\d+)/i.exec(conn.data)?.[1];
      const complete = end >= 0 && length !== undefined && conn.data.length >= end + 4 + Number(length);
      if (stall === 'stall-body' && complete && !answered) {
        answered = true;
        // A 200 whose body never comes: 2 of the 100 bytes announced.
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nok');
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      conn.closedAt = Date.now();
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    connections,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The connections that carried a request (a delivery attempt). */
const withRequest = (hook: StallingReceiver): Connection[] => hook.connections.filter((c) => c.data !== '');

/** The request body a connection carried (the notification), or '' if it had none yet. */
const bodyOf = (c: Connection): string => c.data.slice(c.data.indexOf('\r\n\r\n') + 4);

const failedDeliveries = async (t: TestServer): Promise<number> => {
  const metrics = await (await fetch(`http://${t.server.metricsAddress}/metrics`)).text();
  const line = /^errors_total\{[^}]*error_type="PUSH_DELIVERY_FAILED"[^}]*\} (\d+)/m.exec(metrics);
  return Number(line?.[1] ?? 0);
};

describe.each<Stall>(['never-answer', 'stall-body'])('a webhook that stalls (%s)', (stall) => {
  let t: TestServer;
  let hook: StallingReceiver;
  beforeAll(async () => {
    hook = await stallingReceiver(stall);
    t = await startServer({
      push: {
        allow: [new URL(hook.url).host],
        timeoutMs: TIMEOUT_MS,
        maxAttempts: MAX_ATTEMPTS,
        baseDelayMs: 10,
      },
    });
  });
  afterAll(async () => {
    await t.close();
    await hook.close();
  });

  it('each attempt is abandoned after push.timeoutMs, retried, then logged as failed; nothing leaks', async () => {
    const requests = (): Connection[] => withRequest(hook);
    const res = await rpc(t.url, 'echo', 'SendMessage', {
      message: { messageId: `m-${stall}`, role: 'ROLE_USER', parts: [{ text: 'stall me' }] },
      configuration: { taskPushNotificationConfig: { url: hook.url, id: 'stalled' } },
    });
    // The task is not held up by its webhook.
    expect(res.json.result?.task?.status?.state).toBe('TASK_STATE_COMPLETED');
    const taskId = res.json.result.task.id as string;

    // While the first attempt hangs, the server answers other requests.
    await eventually(() => requests().length > 0, 5000, 'the first delivery attempt');
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
    const other = await rpc(t.url, 'echo', 'SendMessage', {
      message: { messageId: `m-${stall}-other`, role: 'ROLE_USER', parts: [{ text: 'still here' }] },
    });
    expect(other.json.result?.task?.status?.state).toBe('TASK_STATE_COMPLETED');

    // The last notification (the completed status) has had all its attempts, each closed.
    await eventually(
      () =>
        requests().filter((c) => bodyOf(c).includes('TASK_STATE_COMPLETED') && c.closedAt !== undefined)
          .length === MAX_ATTEMPTS,
      20 * TIMEOUT_MS * MAX_ATTEMPTS,
      'every attempt of the last notification',
    );
    const notifications = new Set(requests().map(bodyOf));
    await eventually(
      () =>
        t.logs.filter((l) => l.task_id === taskId && l.msg === 'push notification delivery failed').length ===
        notifications.size,
      5000,
      'one failure log line per notification',
    );
    // Every socket ends, those that never carried a request included: after an aborted
    // request undici connects again at once, and closes that idle connection after its
    // keep-alive timeout (4 s) if no delivery uses it.
    await eventually(
      () => hook.connections.every((c) => c.closedAt !== undefined),
      10_000,
      'the receiver to see every socket closed',
    );

    // Every notification was tried exactly maxAttempts times, each on its own connection.
    expect(notifications.size).toBeGreaterThanOrEqual(2);
    for (const body of notifications) {
      expect(JSON.parse(body)).toBeTypeOf('object');
      const attempts = requests().filter((c) => bodyOf(c) === body);
      expect(attempts).toHaveLength(MAX_ATTEMPTS);
      for (const a of attempts) {
        expect(a.data).toMatch(/^POST \/hook HTTP\/1\.1\r\n/);
        // Abandoned at the timeout: not before (a little slack for timer granularity), nor long after.
        const held = (a.closedAt as number) - (a.requestAt as number);
        expect(held).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
        expect(held).toBeLessThan(TIMEOUT_MS + 1000);
      }
    }
    expect(requests()).toHaveLength(notifications.size * MAX_ATTEMPTS);

    const failures = t.logs.filter(
      (l) => l.task_id === taskId && l.msg === 'push notification delivery failed',
    );
    for (const line of failures) {
      expect(line).toMatchObject({ push_config_id: 'stalled', attempts: MAX_ATTEMPTS });
      expect(String(line.problem)).toMatch(/time/i);
    }
    expect(await failedDeliveries(t)).toBe(notifications.size);
    // The server still serves.
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
  });
});
