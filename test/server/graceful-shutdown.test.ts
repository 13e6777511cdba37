/**
 * The built CLI as a real process: SIGTERM drains (readiness 503, new work refused with
 * SHUTTING_DOWN, open streams end cleanly, exit code 0 within the drain deadline), and an
 * invalid config file exits with code 2 naming the field. Needs `npm run build` first
 * (`npm test` does it).
 */
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { removeWorkDir, spawnAgentd, stopStarted, writeConfig } from '../helpers/agentd-process.js';
import {
  eventState,
  expectRestError,
  expectRpcError,
  messageJson,
  rest,
  restStream,
  rpc,
  rpcStream,
  streamPayload,
  type SseFrame,
} from '../helpers/wire.js';

// Only the processes this file started, by PID, and only if still running.
afterEach(stopStarted);
afterAll(removeWorkDir);

const serveConfig = (drainMs: number): string => `
server:
  host: 127.0.0.1
  grpcPort: 0
  shutdownDrainMs: ${drainMs}
prometheus:
  port: 0
logging:
  level: info
agents:
  - name: countdown
    kind: countdown
    stepMs: 50
`;

describe('SIGTERM on `agentd serve`', () => {
  it('drains: readiness 503, new work refused, streams end cleanly, exit 0 within the deadline', async () => {
    const drainMs = 8000;
    const agentd = spawnAgentd([
      'serve',
      '--config',
      writeConfig('drain.yaml', serveConfig(drainMs)),
      '--port',
      '0',
    ]);
    const url = await agentd.url;
    expect((await fetch(`${url}/ready`)).status).toBe(200);

    // A long countdown (30 steps of 50 ms), followed on both bindings...
    const stream = await rpcStream(url, 'countdown', 'SendStreamingMessage', {
      message: messageJson('count to 30'),
    });
    const first = (await stream.nextEvent()) as SseFrame;
    const taskId = streamPayload(first).task.id as string;
    const sub = await restStream(url, 'countdown', 'POST', `/tasks/${taskId}:subscribe`);
    expect(eventState((await sub.nextEvent()) as SseFrame)).toBeDefined();
    // ...and a subscription to a task that waits for input (its stream never ends by itself).
    const asking = await rpc(url, 'countdown', 'SendMessage', { message: messageJson('count to 2 and ask') });
    expect(asking.json.result.task.status.state).toBe('TASK_STATE_INPUT_REQUIRED');
    const idle = await rpcStream(url, 'countdown', 'SubscribeToTask', { id: asking.json.result.task.id });
    expect(eventState((await idle.nextEvent()) as SseFrame)).toBe('TASK_STATE_INPUT_REQUIRED');

    const sigtermAt = Date.now();
    process.kill(agentd.child.pid as number, 'SIGTERM');
    await agentd.waitForLog((l) => l.msg === 'shutting down: draining in-flight tasks');

    // While draining: not ready, and new work is refused with the retryable SHUTTING_DOWN.
    const ready = await fetch(`${url}/ready`);
    expect(ready.status).toBe(503);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expectRpcError(await rpc(url, 'countdown', 'SendMessage', { message: messageJson('count to 1') }), {
      http: 503,
      code: -32052,
      reason: 'SHUTTING_DOWN',
    });
    const refused = await rest(url, 'countdown', 'POST', '/message:send', {
      message: messageJson('count to 1'),
    });
    expectRestError(refused, { http: 503, status: 'UNAVAILABLE', reason: 'SHUTTING_DOWN' });
    expect(refused.json.error.details[0].metadata.retryable).toBe('true');

    // The running task finishes inside the deadline; every stream ends cleanly.
    const events = await stream.rest();
    expect(eventState(events[events.length - 1] as SseFrame)).toBe('TASK_STATE_COMPLETED');
    expect(events.filter((e) => streamPayload(e).artifactUpdate)).toHaveLength(30);
    const subEvents = await sub.rest();
    expect(eventState(subEvents[subEvents.length - 1] as SseFrame)).toBe('TASK_STATE_COMPLETED');
    expect(await idle.rest()).toEqual([]);

    const exit = await agentd.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.at - sigtermAt).toBeLessThan(drainMs);
    await agentd.waitForLog((l) => l.msg === 'shutdown complete');
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });

  it('past the drain deadline: the unfinished task is FAILED with the reason, streams end, exit 0', async () => {
    const drainMs = 300;
    const agentd = spawnAgentd([
      'serve',
      '--config',
      writeConfig('deadline.yaml', serveConfig(drainMs)),
      '--port',
      '0',
    ]);
    const url = await agentd.url;
    const stream = await rpcStream(url, 'countdown', 'SendStreamingMessage', {
      message: messageJson('count to 1000'),
    });
    const taskId = streamPayload((await stream.nextEvent()) as SseFrame).task.id as string;
    const sub = await restStream(url, 'countdown', 'GET', `/tasks/${taskId}:subscribe`);
    await sub.nextEvent();

    const sigtermAt = Date.now();
    process.kill(agentd.child.pid as number, 'SIGTERM');

    for (const s of [stream, sub]) {
      const events = await s.rest();
      const last = events[events.length - 1] as SseFrame;
      expect(eventState(last)).toBe('TASK_STATE_FAILED');
      const text = streamPayload(last).statusUpdate.status.message.parts[0].text as string;
      expect(text).toBe('The server shut down before this task finished');
    }
    const exit = await agentd.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.at - sigtermAt).toBeGreaterThanOrEqual(drainMs);
    expect(exit.at - sigtermAt).toBeLessThan(drainMs + 3000);
    await agentd.waitForLog(
      (l) => l.msg === 'drain deadline passed; unfinished tasks marked failed' && l.unfinished === 1,
    );
  });
});

describe('`agentd serve` with an invalid config', () => {
  it('exits with code 2 and names the field and the problem on stderr', async () => {
    const bad = writeConfig(
      'bad.yaml',
      `agents:
  - name: countdown
    kind: countdown
    stepMs: 0
`,
    );
    const agentd = spawnAgentd(['serve', '--config', bad, '--port', '0']);
    const exit = await agentd.exited;
    expect(exit).toMatchObject({ code: 2, signal: null });
    const stderr = agentd.stderr();
    expect(stderr).toContain(bad);
    expect(stderr).toMatch(/agents\.0\.stepMs: .*>=\s*1/);
    expect(stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
    expect(stderr).not.toContain('listening');
  });

  it('exits with code 2 for an unknown key and for YAML that does not parse', async () => {
    const unknownKey = spawnAgentd([
      'serve',
      '--config',
      writeConfig('typo.yaml', 'server:\n  prot: 80\nagents:\n  - {name: e, kind: echo}\n'),
    ]);
    expect((await unknownKey.exited).code).toBe(2);
    expect(unknownKey.stderr()).toMatch(/server: .*"prot"/);

    const notYaml = spawnAgentd(['serve', '--config', writeConfig('broken.yaml', 'agents: [ {name: e\n')]);
    expect((await notYaml.exited).code).toBe(2);
    expect(notYaml.stderr()).toContain('not valid YAML');

    const missing = spawnAgentd([
      'serve',
      '--config',
      join(writeConfig('exists.yaml', ''), '..', 'nope.yaml'),
    ]);
    expect((await missing.exited).code).toBe(2);
    expect(missing.stderr()).toContain('config file not found');
  });
});
