/**
 * Four agentd processes on one redis-server, as pods of a Deployment: any replica
 * serves any task, and a replica killed with SIGKILL mid-task loses nothing. Replicas are
 * real child processes (bin/agentd.js), so kill -9 is a real kill -9.
 */
import { TaskState, type Task } from '@a2a-js/sdk';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  removeWorkDir,
  spawnAgentd,
  stopStarted,
  writeConfig,
  type Agentd,
} from '../helpers/agentd-process.js';
import { startRedis, type RedisProcess } from '../helpers/redis-server.js';
import { clientFor, listContextRequest, sendRequest, waitForTaskState } from '../helpers/sdk-client.js';
import { eventState, messageJson, rpc, rpcStream, streamPayload, type SseFrame } from '../helpers/wire.js';

const STEP_AGENT = resolve(import.meta.dirname, '../fixtures/step-agent.mjs');
const LEASE_SECONDS = 1;
const STEP_MS = 800;

interface Replica {
  readonly process: Agentd;
  readonly url: string;
}

describe('three replicas on one Redis', () => {
  let redis: RedisProcess;
  let sideEffects: string;
  let config: string;
  const replicas: Replica[] = [];
  const replica = (i: number): Replica => {
    const r = replicas[i];
    if (!r) throw new Error(`replica ${i} is not running`);
    return r;
  };

  async function startReplica(): Promise<Replica> {
    const process = spawnAgentd(['serve', '--config', config, '--port', '0']);
    const r = { process, url: await process.url };
    replicas.push(r);
    return r;
  }

  beforeAll(async () => {
    redis = await startRedis();
    sideEffects = join(writeConfig('side-effects.log', ''));
    config = writeConfig(
      'replica.yaml',
      JSON.stringify({
        server: { host: '127.0.0.1', grpcPort: 0, shutdownDrainMs: 300 },
        store: { kind: 'redis', redis: { url: redis.url, keyPrefix: 'three:' } },
        execution: { leaseSeconds: LEASE_SECONDS, maxConcurrentWorkflows: 8 },
        logging: { level: 'info' },
        prometheus: { port: 0 },
        agents: [
          { name: 'countdown', kind: 'countdown', stepMs: 40, default: true },
          {
            name: 'steps',
            kind: 'module',
            module: STEP_AGENT,
            export: 'StepAgent',
            options: { sideEffects, steps: 5, stepMs: STEP_MS },
          },
        ],
      }),
    );
    for (let i = 0; i < 4; i++) await startReplica();
  }, 300_000);

  /** Polls the side-effect file (written by agent processes: no event reaches the test). */
  async function waitForLine(match: (line: string) => boolean, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = readFileSync(sideEffects, 'utf8').split('\n').find(match);
      if (line) return line;
      if (Date.now() > deadline) throw new Error('timed out waiting for the agent to write its line');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  afterAll(async () => {
    stopStarted();
    removeWorkDir();
    await redis?.stop();
  });

  it('send on A, stream on B, cancel on C: every replica reports the same task', async () => {
    const [a, b, c] = [replica(0), replica(1), replica(2)];
    const onA = await clientFor(`${a.url}/a2a/countdown/`);
    const onB = await clientFor(`${b.url}/a2a/countdown/`);
    const onC = await clientFor(`${c.url}/a2a/countdown/`);
    const created = await onA.sendMessage(sendRequest('count to 300', { returnImmediately: true }));
    if (!('status' in created)) throw new Error('expected a task');

    const stream = onB.resubscribeTask({ tenant: '', id: created.id });
    const first = await stream.next();
    expect(first.value?.payload?.$case).toBe('task');
    let artifacts = 0;
    while (artifacts < 3) {
      const next = await stream.next();
      if (next.done) throw new Error('stream on B ended early');
      if (next.value.payload?.$case === 'artifactUpdate') artifacts++;
    }

    const canceled = await onC.cancelTask({ tenant: '', id: created.id, metadata: undefined });
    expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    let last: TaskState | undefined;
    for await (const event of stream) {
      if (event.payload?.$case === 'statusUpdate') last = event.payload.value.status?.state;
    }
    expect(last).toBe(TaskState.TASK_STATE_CANCELED);

    const views = await Promise.all(
      [onA, onB, onC].map((client) => client.getTask({ tenant: '', id: created.id })),
    );
    for (const view of views) {
      expect(view.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
      expect(view.artifacts).toEqual(views[0]?.artifacts);
    }
    // The agent on A stopped counting long before 300.
    const counted = views[0]?.artifacts[0]?.parts.length ?? 0;
    expect(counted).toBeGreaterThanOrEqual(3);
    expect(counted).toBeLessThan(300);
    for (const client of [onA, onB, onC]) {
      const listed = await client.listTasks(listContextRequest(created.contextId));
      expect(listed.tasks.map((t) => [t.id, t.status?.state])).toEqual([
        [created.id, TaskState.TASK_STATE_CANCELED],
      ]);
    }
  });

  it('a stream dropped on B resumes on C with Last-Event-ID: no gap, no duplicate', async () => {
    const [a, b, c] = [replica(0), replica(1), replica(2)];
    const sent = await rpc(a.url, 'countdown', 'SendMessage', {
      message: messageJson('count to 12'),
      configuration: { returnImmediately: true },
    });
    const taskId = (sent.json.result.task as Task).id;

    const first = await rpcStream(b.url, 'countdown', 'SubscribeToTask', { id: taskId });
    const before: SseFrame[] = [];
    while (before.length < 5) {
      const frame = await first.nextEvent();
      if (!frame) throw new Error('stream on B ended early');
      before.push(frame);
    }
    first.close();
    const lastId = before[before.length - 1]?.id;
    if (!lastId) throw new Error('events carry no id');

    const resumed = await rpcStream(
      c.url,
      'countdown',
      'SubscribeToTask',
      { id: taskId },
      { 'last-event-id': lastId },
    );
    const after = await resumed.rest();
    expect(eventState(after[after.length - 1] as SseFrame)).toBe('TASK_STATE_COMPLETED');

    // The snapshot B sent first carries the id of the last event it includes; every event after it follows once, in order.
    const ids = [...before, ...after].map((f) => Number(f.id));
    const firstId = ids[0] as number;
    expect(ids).toEqual(ids.map((_, i) => firstId + i));
    const counts = [...before.slice(1), ...after]
      .map((f) => streamPayload(f).artifactUpdate?.artifact?.parts?.[0]?.text as string | undefined)
      .filter((t): t is string => t !== undefined);
    expect(counts).toEqual(counts.map((_, i) => `${Number(counts[0]) + i}\n`));
  });

  it('kill -9 of the replica running a task: another takes it over and finished steps are not re-run', async () => {
    const [a, b] = [replica(0), replica(1)];
    const onA = await clientFor(`${a.url}/a2a/steps/`);
    const onB = await clientFor(`${b.url}/a2a/steps/`);
    const created = await onA.sendMessage(sendRequest('work', { returnImmediately: true }));
    if (!('status' in created)) throw new Error('expected a task');

    // Follow on B; once step 2 is reported (A is now sleeping before step 3), kill A.
    const stream = onB.resubscribeTask({ tenant: '', id: created.id });
    const seen: string[] = [];
    for (;;) {
      const next = await stream.next();
      if (next.done) throw new Error('stream ended before step 2');
      const p = next.value.payload;
      if (p?.$case === 'task') seen.push(...p.value.artifacts.map((x) => x.artifactId));
      if (p?.$case === 'artifactUpdate') seen.push(p.value.artifact?.artifactId ?? '');
      if (seen.includes('step-2')) break;
    }
    const killedAt = Date.now();
    a.process.child.kill('SIGKILL');
    await a.process.exited;

    let last: TaskState | undefined;
    for await (const event of stream) {
      const p = event.payload;
      if (p?.$case === 'artifactUpdate') seen.push(p.value.artifact?.artifactId ?? '');
      if (p?.$case === 'statusUpdate') last = p.value.status?.state;
    }
    const tookOverWithin = Date.now() - killedAt;
    expect(last).toBe(TaskState.TASK_STATE_COMPLETED);
    // The re-run reports steps 1-2 again (from their checkpoints, same artifact ids), then 3-5.
    expect(seen.slice(-5)).toEqual(['step-1', 'step-2', 'step-3', 'step-4', 'step-5']);

    const done = await onB.getTask({ tenant: '', id: created.id });
    expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(done.metadata?.['agentd.attempt']).toBe(2);
    expect(done.artifacts.map((x) => x.artifactId)).toEqual([
      'step-1',
      'step-2',
      'step-3',
      'step-4',
      'step-5',
    ]);
    // Detection is bounded by the lease (1 s here) plus the recovery sweep, plus the three steps left.
    expect(tookOverWithin).toBeLessThan(LEASE_SECONDS * 1000 + 3 * STEP_MS + 5000);

    // Each step's side effect happened exactly once: steps 1-2 on A, 3-5 on the replica that took over.
    const lines = readFileSync(sideEffects, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith(created.id));
    const steps = lines.map((l) => l.split(' ')[1]);
    expect(steps).toEqual(['step-1', 'step-2', 'step-3', 'step-4', 'step-5']);
    const pidOf = (step: string): string | undefined =>
      lines.find((l) => l.includes(` ${step} `))?.split(' ')[2];
    expect(pidOf('step-1')).toBe(`pid-${a.process.child.pid}`);
    expect(pidOf('step-3')).not.toBe(`pid-${a.process.child.pid}`);
    expect(lines.filter((l) => l.endsWith('attempt-2'))).toHaveLength(3);
  });

  it('kill -9 before a blocking task wrote anything: another replica stores it from its lease and runs it', async () => {
    const [a, b] = [replica(2), replica(3)];
    const onA = await clientFor(`${a.url}/a2a/steps/`);
    const onB = await clientFor(`${b.url}/a2a/steps/`);
    const contextId = `ctx-${Date.now()}`;
    // Blocking: the client learns the id only from the answer, so the task is stored with its first events.
    const pending = onA.sendMessage(sendRequest('slow start', { contextId }));
    pending.catch(() => {}); // the connection dies with replica A
    const started = await waitForLine((l) => l.includes(' started ') && l.endsWith('attempt-1'));
    const taskId = started.split(' ')[0] as string;
    expect(started).toContain(`pid-${a.process.child.pid}`);
    expect((await onB.listTasks(listContextRequest(contextId))).tasks).toEqual([]); // nothing stored yet
    a.process.child.kill('SIGKILL');
    await a.process.exited;
    await expect(pending).rejects.toThrow();

    const rerun = await waitForLine((l) => l.startsWith(`${taskId} started`) && l.endsWith('attempt-2'));
    expect(rerun).not.toContain(`pid-${a.process.child.pid}`);
    const done = await waitForTaskState(onB, taskId, TaskState.TASK_STATE_COMPLETED);
    expect(done.contextId).toBe(contextId);
    expect(done.metadata?.['agentd.attempt']).toBe(2);
    expect(done.history[0]?.parts[0]?.content).toEqual({ $case: 'text', value: 'slow start' });
    expect(done.artifacts).toHaveLength(5);
    const listed = await onB.listTasks(listContextRequest(contextId));
    expect(listed.tasks.map((t) => t.id)).toEqual([taskId]);
  });

  it('SIGTERM past the drain deadline hands the unfinished task to another replica', async () => {
    const b = replica(1);
    const d = await startReplica();
    const onD = await clientFor(`${d.url}/a2a/steps/`);
    const onB = await clientFor(`${b.url}/a2a/steps/`);
    const created = await onD.sendMessage(sendRequest('work', { returnImmediately: true }));
    if (!('status' in created)) throw new Error('expected a task');
    const stream = onB.resubscribeTask({ tenant: '', id: created.id });
    for (;;) {
      const next = await stream.next();
      if (next.done) throw new Error('stream ended before step 1');
      if (next.value.payload?.$case === 'artifactUpdate') break;
    }
    d.process.child.kill('SIGTERM');
    expect((await d.process.exited).code).toBe(0);

    let last: TaskState | undefined;
    for await (const event of stream) {
      if (event.payload?.$case === 'statusUpdate') last = event.payload.value.status?.state;
    }
    expect(last).toBe(TaskState.TASK_STATE_COMPLETED);
    const done = await onB.getTask({ tenant: '', id: created.id });
    expect(done.metadata?.['agentd.attempt']).toBe(2);
    expect(done.artifacts).toHaveLength(5);
    expect(existsSync(sideEffects)).toBe(true);
    const steps = readFileSync(sideEffects, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith(created.id))
      .map((l) => l.split(' ')[1]);
    expect(steps).toEqual(['step-1', 'step-2', 'step-3', 'step-4', 'step-5']);
  });
});
