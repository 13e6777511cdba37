/**
 * Durable workflows across real agentd processes on one redis-server: the replica running
 * a workflow is killed with SIGKILL in the middle of a step; another replica resumes it,
 * finished steps are not run again and no child message is sent twice (the child agents
 * count what they do in a file).
 */
import { TaskState, type Task } from '@a2a-js/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  removeWorkDir,
  spawnAgentd,
  stopStarted,
  writeConfig,
  type Agentd,
} from '../helpers/agentd-process.js';
import { startRedis, type RedisProcess } from '../helpers/redis-server.js';
import { clientFor, sendRequest, waitForTaskState } from '../helpers/sdk-client.js';
import { effectLines, effectsAgent, flowAgent, waitForLines } from '../helpers/workflow.js';

interface Replica {
  readonly process: Agentd;
  readonly url: string;
}

describe('durable workflows on three replicas', () => {
  let redis: RedisProcess;
  let effects: string;
  const replicas: Replica[] = [];
  const lines = (): string[] => effectLines(effects);
  const waitForLine = (match: (line: string) => boolean): Promise<string[]> => waitForLines(effects, match);

  beforeAll(async () => {
    redis = await startRedis();
    effects = writeConfig('workflow-effects.log', '');
    const config = writeConfig(
      'workflow-replica.yaml',
      JSON.stringify({
        server: { host: '127.0.0.1', grpcPort: 0, shutdownDrainMs: 300 },
        store: { kind: 'redis', redis: { url: redis.url, keyPrefix: 'wf3:' } },
        execution: { leaseSeconds: 1, maxConcurrentWorkflows: 4 },
        logging: { level: 'info' },
        prometheus: { port: 0 },
        agents: [
          { name: 'echo', kind: 'echo', default: true },
          effectsAgent(effects, 1500),
          {
            name: 'pipeline',
            kind: 'workflow',
            steps: [
              { id: 'a', agent: 'effects', input: 'pa-{{ input }}' },
              { id: 'b', agent: 'effects', needs: ['a'], input: 'pb-{{ steps.a.output }}' },
              { id: 'c', agent: 'effects', needs: ['a'], input: 'pc-{{ steps.a.output }}' },
              {
                id: 'd',
                agent: 'echo',
                needs: ['b', 'c'],
                input: '{{ steps.b.output }} {{ steps.c.output }}',
              },
            ],
          },
          flowAgent(effects),
        ],
      }),
    );
    for (let i = 0; i < 3; i++) {
      const process = spawnAgentd(['serve', '--config', config, '--port', '0']);
      replicas.push({ process, url: await process.url });
    }
  }, 120_000);

  afterAll(async () => {
    stopStarted();
    removeWorkDir();
    await redis?.stop();
  });

  it('kill -9 mid-step: another replica finishes the workflow, no step re-run, no child message re-sent', async () => {
    const [a, b] = replicas as [Replica, Replica, Replica];
    const onA = await clientFor(`${a.url}/a2a/flow/`);
    const onB = await clientFor(`${b.url}/a2a/flow/`);
    const created = (await onA.sendMessage(sendRequest('crash', { returnImmediately: true }))) as Task;

    // Step a finished and b and c are under way on A (the parent lends them its slot).
    await waitForLine((l) => l === 'effect a-crash');
    await waitForLine((l) => l.startsWith('start b-a-crash!'));
    a.process.child.kill('SIGKILL');
    await a.process.exited;

    const done = await waitForTaskState(onB, created.id, TaskState.TASK_STATE_COMPLETED, 60_000);
    const text = done.artifacts
      .flatMap((x) => x.parts)
      .map((p) => (p.content?.$case === 'text' ? p.content.value : ''));
    expect(text.join('')).toBe('b-a-crash!! c-a-crash!!');
    expect(done.metadata?.['agentd.attempt']).toBeGreaterThanOrEqual(2);

    const all = lines();
    // Every side effect happened once: the finished step a was not run again, and b and c,
    // taken over on another replica, are the same child tasks (their step() checkpoints held).
    for (const child of ['a-crash', 'b-a-crash!', 'c-a-crash!'])
      expect(all.filter((l) => l === `effect ${child}`)).toHaveLength(1);
    expect(all.filter((l) => l.startsWith('start a-crash '))).toHaveLength(1);
    // A child message sent again would start a new task at attempt 1: each child has one first attempt.
    for (const child of ['b-a-crash!', 'c-a-crash!'])
      expect(all.filter((l) => l.startsWith(`start ${child} `) && l.endsWith('attempt-1'))).toHaveLength(1);
    expect(all.filter((l) => l === 'parent-done crash')).toHaveLength(1);
  }, 90_000);

  it('the same for a declarative workflow: killed mid-step, resumed elsewhere, each step once', async () => {
    const [, b, c] = replicas as [Replica, Replica, Replica];
    const onB = await clientFor(`${b.url}/a2a/pipeline/`);
    const onC = await clientFor(`${c.url}/a2a/pipeline/`);
    const created = (await onB.sendMessage(sendRequest('x', { returnImmediately: true }))) as Task;
    await waitForLine((l) => l === 'effect pa-x');
    await waitForLine((l) => l.startsWith('start pb-pa-x!'));
    b.process.child.kill('SIGKILL');
    await b.process.exited;

    const done = await waitForTaskState(onC, created.id, TaskState.TASK_STATE_COMPLETED, 60_000);
    const text = done.artifacts
      .flatMap((x) => x.parts)
      .map((p) => (p.content?.$case === 'text' ? p.content.value : ''));
    expect(text.join('')).toBe('pb-pa-x!! pc-pa-x!!');
    const all = lines();
    for (const child of ['pa-x', 'pb-pa-x!', 'pc-pa-x!'])
      expect(all.filter((l) => l === `effect ${child}`)).toHaveLength(1);
    expect(all.filter((l) => l.startsWith('start pa-x '))).toHaveLength(1);
    for (const child of ['pb-pa-x!', 'pc-pa-x!'])
      expect(all.filter((l) => l.startsWith(`start ${child} `) && l.endsWith('attempt-1'))).toHaveLength(1);
    // The resumed run announced the finished step a again only from its checkpoint: one "a completed".
    const steps = done.history
      .map((m) => m.parts.map((p) => (p.content?.$case === 'text' ? p.content.value : '')).join(''))
      .filter((t) => t.startsWith('step a started'));
    expect(steps).toHaveLength(1);
  }, 90_000);
});
