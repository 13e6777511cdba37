/**
 * A workflow on process A whose children run on process B, over A2A: both servers share one
 * redis-server, so A finds B's agent in the agent registry by name. The workflow completes with
 * B's results, and canceling it on A cancels the child running on B.
 */
import { TaskState, type Task } from '@a2a-js/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeWorkDir, spawnAgentd, stopStarted, writeConfig } from '../helpers/agentd-process.js';
import { startRedis, type RedisProcess } from '../helpers/redis-server.js';
import { clientFor, sendRequest, waitForTaskState } from '../helpers/sdk-client.js';
import { effectLines, effectsAgent, flowAgent, taskWithMessage, waitForLines } from '../helpers/workflow.js';

describe('a workflow on A calling agents on B', () => {
  let redis: RedisProcess;
  let effects: string;
  let aUrl: string;
  let bUrl: string;
  let bPid: number | undefined;
  const lines = (): string[] => effectLines(effects);
  const waitForLine = (match: (line: string) => boolean): Promise<string[]> => waitForLines(effects, match);

  beforeAll(async () => {
    redis = await startRedis();
    effects = writeConfig('remote-effects.log', '');
    const common = {
      server: { host: '127.0.0.1', grpcPort: 0, shutdownDrainMs: 300 },
      store: { kind: 'redis', redis: { url: redis.url, keyPrefix: 'wfremote:' } },
      registry: { heartbeatSeconds: 1 },
      logging: { level: 'info' },
      prometheus: { port: 0 },
    };
    const b = spawnAgentd([
      'serve',
      '--config',
      writeConfig(
        'remote-b.yaml',
        JSON.stringify({
          ...common,
          agents: [{ name: 'echo', kind: 'echo', default: true }, effectsAgent(effects, 50)],
        }),
      ),
      '--port',
      '0',
    ]);
    bUrl = await b.url;
    bPid = b.child.pid;
    const a = spawnAgentd([
      'serve',
      '--config',
      writeConfig(
        'remote-a.yaml',
        JSON.stringify({
          ...common,
          agents: [{ name: 'echo', kind: 'echo', default: true }, flowAgent(effects)],
        }),
      ),
      '--port',
      '0',
    ]);
    aUrl = await a.url;
  }, 120_000);

  afterAll(async () => {
    stopStarted();
    removeWorkDir();
    await redis?.stop();
  });

  it('runs the children on B over A2A and completes with their results', async () => {
    const flow = await clientFor(`${aUrl}/a2a/flow/`);
    const task = (await flow.sendMessage(sendRequest('far'))) as Task;
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const text = task.artifacts
      .flatMap((x) => x.parts)
      .map((p) => (p.content?.$case === 'text' ? p.content.value : ''));
    expect(text.join('')).toBe('b-a-far!! c-a-far!!');
    // Every child ran on B, once.
    for (const child of ['a-far', 'b-a-far!', 'c-a-far!']) {
      expect(lines().filter((l) => l.startsWith(`start ${child} pid-${bPid} `))).toHaveLength(1);
      expect(lines().filter((l) => l === `effect ${child}`)).toHaveLength(1);
    }
  });

  it('canceling the workflow on A cancels its child on B', async () => {
    const flow = await clientFor(`${aUrl}/a2a/flow/`);
    const onB = await clientFor(`${bUrl}/a2a/effects/`);
    const task = (await flow.sendMessage(sendRequest('slow far', { returnImmediately: true }))) as Task;
    await waitForLine((l) => l.startsWith('start a-slow far '));
    const canceled = await flow.cancelTask({ tenant: '', id: task.id, metadata: undefined });
    expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    await waitForLine((l) => l === 'canceled a-slow far');
    const child = await taskWithMessage(onB, 'a-slow far');
    expect(child).toBeDefined();
    await waitForTaskState(onB, child!.id, TaskState.TASK_STATE_CANCELED);
    expect(lines()).not.toContain('effect a-slow far');
  });
});
