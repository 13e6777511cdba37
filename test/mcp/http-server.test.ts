/**
 * MCP over Streamable HTTP, with the server down when agentd starts: agentd starts anyway,
 * readiness names the missing server, and its tools appear once it is reachable. The MCP
 * server is the reference "everything" server from npm, run as a child process.
 */
import { TaskState } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/redis-server.js';
import { clientFor } from '../helpers/sdk-client.js';
import { eventually, startServer, type TestServer } from '../helpers/server.js';
import { EVERYTHING, send, statusText, texts, toolCall } from './helpers.js';

interface Probe {
  status: string;
  checks: Record<string, { status: string; error?: string }>;
}

async function ready(t: TestServer): Promise<{ code: number; body: Probe }> {
  t.server.health.invalidate();
  const res = await fetch(`${t.url}/ready`);
  return { code: res.status, body: (await res.json()) as Probe };
}

function startEverythingHttp(port: number): ChildProcess {
  return spawn(process.execPath, [EVERYTHING, 'streamableHttp'], {
    env: { ...process.env, PORT: String(port) },
    stdio: 'ignore',
  });
}

describe('MCP server over Streamable HTTP that is down at startup', () => {
  let t: TestServer;
  let port: number;
  let mcpServer: ChildProcess | undefined;
  let remote: Client;

  beforeAll(async () => {
    port = await freePort();
    process.env.AGENTD_TEST_MCP_TOKEN = 'secret-token';
    t = await startServer({
      agents: [
        { name: 'echo', kind: 'echo', default: true },
        { name: 'remote', kind: 'tools', servers: ['remote'] },
      ],
      mcp: {
        reconnectBaseMs: 50,
        reconnectMaxMs: 200,
        servers: [
          {
            name: 'remote',
            transport: 'http',
            url: `http://127.0.0.1:${port}/mcp`,
            bearerToken: { env: 'AGENTD_TEST_MCP_TOKEN' },
          },
          { name: 'optional', transport: 'stdio', command: 'agentd-test-no-such-command', required: false },
          { name: 'misplaced', transport: 'stdio', command: 'node', cwd: 'no-such-dir', required: false },
        ],
      },
    });
    remote = await clientFor(t.agentUrl('remote'));
  });
  afterAll(async () => {
    await t?.close();
    if (mcpServer && mcpServer.exitCode === null) {
      mcpServer.kill('SIGTERM');
      await once(mcpServer, 'exit');
    }
  });

  it('starts anyway; readiness fails naming the missing server, and reports the optional one', async () => {
    const { code, body } = await ready(t);
    expect(code).toBe(503);
    expect(body.checks.mcp_remote).toMatchObject({ status: 'fail' });
    expect(body.checks.mcp_remote?.error).toContain(
      `MCP server "remote" is unreachable: cannot reach http://127.0.0.1:${port}/mcp`,
    );
    expect(body.checks.mcp_optional).toMatchObject({ status: 'warn' });
    expect(body.checks.mcp_optional?.error).toContain('command not found: agentd-test-no-such-command');
    expect(body.checks.mcp_misplaced?.error).toMatch(/working directory .*no-such-dir does not exist/);
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
  });

  it('rejects a call while the server is missing, saying why', async () => {
    const card = await remote.getAgentCard();
    expect(card.skills ?? []).toEqual([]); // an empty list is left out on the wire
    const task = await send(remote, toolCall('get-sum', { a: 1, b: 2 }));
    expect(task.status?.state).toBe(TaskState.TASK_STATE_REJECTED);
    expect(statusText(task)).toContain(
      `unknown tool "get-sum"; no tools are available right now (MCP server "remote" is down: cannot reach http://127.0.0.1:${port}/mcp`,
    );
  });

  it('connects once the server is reachable: tools appear in the card, calls work, readiness passes', async () => {
    mcpServer = startEverythingHttp(port);
    await eventually(
      async () => (await ready(t)).code === 200,
      15_000,
      'readiness after the MCP server came up',
    );
    const { body } = await ready(t);
    expect(body.checks.mcp_remote).toMatchObject({ status: 'pass' });
    expect(body.checks.mcp_optional).toMatchObject({ status: 'warn' });
    const card = await (await clientFor(t.agentUrl('remote'))).getAgentCard();
    expect(card.skills.map((s) => s.id)).toContain('get-sum');
    const task = await send(remote, toolCall('get-sum', { a: 40, b: 2 }));
    expect(texts(task)).toEqual(['The sum of 40 and 2 is 42.']);
  });

  it('notices the server going away: the call fails clearly and readiness turns 503 until it is back', async () => {
    const child = mcpServer as ChildProcess;
    child.kill('SIGKILL');
    await once(child, 'exit');
    const task = await send(remote, toolCall('get-sum', { a: 1, b: 1 }));
    expect(task.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(statusText(task)).toMatch(/Call to tool "get-sum" on MCP server "remote" failed: fetch failed/);
    expect((await ready(t)).code).toBe(503);
    mcpServer = startEverythingHttp(port);
    await eventually(async () => (await ready(t)).code === 200, 15_000, 'readiness after the restart');
    const again = await send(remote, toolCall('get-sum', { a: 2, b: 2 }));
    expect(texts(again)).toEqual(['The sum of 2 and 2 is 4.']);
  });
});
