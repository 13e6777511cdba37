/**
 * Canceling a workflow cancels its children where they run, on another replica too: replica
 * A has one worker slot, so of the two children a workflow starts in parallel one runs in the
 * slot A's waiting workflow lends it and the other is queued and taken by replica B. A cancel
 * sent to A stops both.
 */
import { TaskState, type Task } from '@a2a-js/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeWorkDir, spawnAgentd, stopStarted, writeConfig } from '../helpers/agentd-process.js';
import { startRedis, type RedisProcess } from '../helpers/redis-server.js';
import { clientFor, sendRequest } from '../helpers/sdk-client.js';
import { effectLines, effectsAgent, flowAgent, waitForLines } from '../helpers/workflow.js';

describe('cancel cascades to children on other replicas', () => {
  let redis: RedisProcess;
  let effects: string;
  let aUrl: string;
  let bPid: number | undefined;
  const lines = (): string[] => effectLines(effects);
  const waitFor = (match: (line: string) => boolean, count: number): Promise<string[]> =>
    waitForLines(effects, match, count);

  beforeAll(async () => {
    redis = await startRedis();
    effects = writeConfig('cancel-effects.log', '');
    const effects100 = effectsAgent(effects, 100);
    const config = (name: string, slots: number, agents: unknown[]): string =>
      writeConfig(
        name,
        JSON.stringify({
          server: { host: '127.0.0.1', grpcPort: 0, shutdownDrainMs: 300 },
          store: { kind: 'redis', redis: { url: redis.url, keyPrefix: 'wfcancel:' } },
          execution: { maxConcurrentWorkflows: slots },
          logging: { level: 'info' },
          prometheus: { port: 0 },
          agents,
        }),
      );
    const b = spawnAgentd(['serve', '--config', config('cancel-b.yaml', 4, [effects100]), '--port', '0']);
    await b.url;
    bPid = b.child.pid;
    const a = spawnAgentd([
      'serve',
      '--config',
      config('cancel-a.yaml', 1, [
        { name: 'echo', kind: 'echo', default: true },
        effects100,
        flowAgent(effects),
      ]),
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

  it('stops the child in the lent slot on A and the one replica B took', async () => {
    const flow = await clientFor(`${aUrl}/a2a/flow/`);
    const task = (await flow.sendMessage(sendRequest('slow', { returnImmediately: true }))) as Task;
    // Step a (2 s), then b and c together: one on A, the other queued and taken by B.
    const started = await waitFor((l) => l.startsWith('start b-') || l.startsWith('start c-'), 2);
    expect(started.some((l) => l.includes(`pid-${bPid} `))).toBe(true);
    const canceled = await flow.cancelTask({ tenant: '', id: task.id, metadata: undefined });
    expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    await waitFor((l) => l.startsWith('canceled b-') || l.startsWith('canceled c-'), 2);
    expect(lines().filter((l) => l.startsWith('effect b-') || l.startsWith('effect c-'))).toEqual([]);
  }, 60_000);
});
