/**
 * SIGTERM with a request in flight on each of 32 keep-alive connections: every one is
 * answered (no reset), its connection closed after the answer; readiness turns 503 at
 * once and the listeners stay open for the configured delay, refusing what arrives with
 * 503 SHUTTING_DOWN and `Connection: close`; then the process exits 0.
 */
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { removeWorkDir, spawnAgentd, stopStarted, writeConfig } from '../helpers/agentd-process.js';
import { eventually } from '../helpers/server.js';
import { messageJson, rpcBody } from '../helpers/wire.js';

afterEach(stopStarted);
afterAll(removeWorkDir);

const CONNECTIONS = 32;
const DELAY_MS = 1500;

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

function post(agent: Agent, url: string, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'a2a-version': '1.0' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('drain under keep-alive load', () => {
  it(`answers the request in flight on each of ${CONNECTIONS} keep-alive connections, then exits 0`, async () => {
    const config = writeConfig(
      'drain-keepalive.yaml',
      `
server: { host: 127.0.0.1, httpPort: 0, transport: http, shutdownDrainMs: 8000 }
prometheus: { enabled: false }
logging: { level: info }
execution: { maxConcurrentWorkflows: ${CONNECTIONS} }
agents:
  - { name: countdown, kind: countdown, stepMs: 100, default: true }
`,
    );
    const agentd = spawnAgentd(['serve', '--config', config], { AGENTD_SHUTDOWN_DELAY_MS: String(DELAY_MS) });
    const url = await agentd.url;
    const endpoint = `${url}/a2a/countdown/`;
    const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
    const sockets = new Set<unknown>();
    agent.on('free', (socket) => sockets.add(socket));
    try {
      // Open the connections first (a request each), so the load runs on kept-alive sockets.
      await Promise.all(
        Array.from({ length: CONNECTIONS }, () =>
          post(agent, endpoint, JSON.stringify(rpcBody('ListTasks', {}))),
        ),
      );
      expect(sockets.size).toBe(CONNECTIONS);

      const inFlight = Array.from({ length: CONNECTIONS }, () =>
        post(agent, endpoint, JSON.stringify(rpcBody('SendMessage', { message: messageJson('count to 8') }))),
      );
      // All 32 tasks are running before the signal.
      await eventually(
        async () => {
          const res = await fetch(endpoint, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(rpcBody('ListTasks', { status: 'TASK_STATE_WORKING' })),
          });
          const json = (await res.json()) as { result?: { totalSize?: number } };
          return json.result?.totalSize === CONNECTIONS;
        },
        10_000,
        'all tasks working',
      );

      const sigtermAt = Date.now();
      process.kill(agentd.child.pid as number, 'SIGTERM');
      await agentd.waitForLog((l) => l.msg === 'shutting down: draining in-flight tasks');

      // At once: not ready; what arrives now is refused, and its connection closed.
      expect((await fetch(`${url}/ready`)).status).toBe(503);
      const refused = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(rpcBody('GetTask', { id: 'any' })),
      });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('connection')).toBe('close');
      const refusedBody = (await refused.json()) as {
        error?: { code?: number; data?: Array<{ reason?: string }> };
      };
      expect(refusedBody.error?.code).toBe(-32052);
      expect(refusedBody.error?.data?.[0]?.reason).toBe('SHUTTING_DOWN');

      // Every request in flight is answered with its completed task; none is reset.
      const answers = await Promise.allSettled(inFlight);
      const failed = answers.filter((a) => a.status === 'rejected');
      expect(failed).toEqual([]);
      for (const a of answers) {
        if (a.status !== 'fulfilled') continue;
        expect(a.value.status).toBe(200);
        const body = JSON.parse(a.value.body) as { result?: { task?: { status?: { state?: string } } } };
        expect(body.result?.task?.status?.state).toBe('TASK_STATE_COMPLETED');
        // Answered during the drain: the keep-alive connection is closed after it.
        expect(a.value.headers.connection).toBe('close');
      }

      const exit = await agentd.exited;
      expect(exit.code).toBe(0);
      // The listeners stayed open for the delay before the process went away.
      expect(exit.at - sigtermAt).toBeGreaterThanOrEqual(DELAY_MS);
    } finally {
      agent.destroy();
    }
  }, 30_000);
});
