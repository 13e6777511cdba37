/**
 * Three agentd processes on a real Redis Cluster (three masters, three replicas): a task's
 * keys, the work queue and the listing indexes sit on different nodes, and every replica
 * still serves every task, hears every cancel and takes over a killed replica's work.
 */
import { TaskState } from '@a2a-js/sdk';
import { join, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  removeWorkDir,
  spawnAgentd,
  stopStarted,
  writeConfig,
  type Agentd,
} from '../helpers/agentd-process.js';
import {
  masterPortOf,
  pollUntil,
  redisCall,
  startRedisCluster,
  type RedisClusterProcess,
} from '../helpers/redis-cluster.js';
import { clientFor, listContextRequest, sendRequest } from '../helpers/sdk-client.js';
import { messageJson, rpc } from '../helpers/wire.js';

const STEP_AGENT = resolve(import.meta.dirname, '../fixtures/step-agent.mjs');
const LEASE_SECONDS = 1;
const STEP_MS = 400;
const PASSWORD = 'cluster-secret-3d7b';

describe('three replicas on a Redis Cluster', () => {
  let cluster: RedisClusterProcess;
  let sideEffects: string;
  const replicas: Array<{ process: Agentd; url: string }> = [];
  const replica = (i: number): { process: Agentd; url: string } => {
    const r = replicas[i];
    if (!r) throw new Error(`replica ${i} is not running`);
    return r;
  };

  beforeAll(async () => {
    cluster = await startRedisCluster({ password: PASSWORD });
    sideEffects = join(writeConfig('side-effects.log', ''));
    const config = writeConfig(
      'cluster-replica.yaml',
      JSON.stringify({
        server: { host: '127.0.0.1', grpcPort: 0, shutdownDrainMs: 300 },
        store: { kind: 'redis', redis: { keyPrefix: 'cl:', waitReplicas: 1, waitTimeoutMs: 200 } },
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
            options: { sideEffects, steps: 4, stepMs: STEP_MS },
          },
        ],
      }),
    );
    // The nodes come from the environment, as a Deployment would pass them.
    const env = { REDIS_CLUSTER_NODES: cluster.addresses.slice(0, 2).join(','), REDIS_PASSWORD: PASSWORD };
    const started = [0, 1, 2].map(() => spawnAgentd(['serve', '--config', config, '--port', '0'], env));
    for (const process of started) replicas.push({ process, url: await process.url });
  }, 300_000);

  afterAll(async () => {
    stopStarted();
    removeWorkDir();
    await cluster?.stop();
  });

  it('is ready, and names the Cluster (not its password) in its banner and logs', async () => {
    const a = replica(0);
    expect((await fetch(`${a.url}/ready`)).status).toBe(200);
    expect(a.process.stderr()).toContain(`redis cluster ${cluster.addresses.slice(0, 2).join(',')}`);
    expect(a.process.stderr()).not.toContain(PASSWORD);
    expect(JSON.stringify(a.process.logs())).not.toContain(PASSWORD);
  });

  it('send on A, stream on B, cancel on C: every replica reports the same task', async () => {
    const [a, b, c] = [replica(0), replica(1), replica(2)];
    const onA = await clientFor(`${a.url}/a2a/countdown/`);
    const onB = await clientFor(`${b.url}/a2a/countdown/`);
    const onC = await clientFor(`${c.url}/a2a/countdown/`);
    const created = await onA.sendMessage(sendRequest('count to 300', { returnImmediately: true }));
    if (!('status' in created)) throw new Error('expected a task');

    const stream = onB.resubscribeTask({ tenant: '', id: created.id });
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
    for (const client of [onA, onB, onC]) {
      const listed = await client.listTasks(listContextRequest(created.contextId));
      expect(listed.tasks.map((t) => [t.id, t.status?.state])).toEqual([
        [created.id, TaskState.TASK_STATE_CANCELED],
      ]);
    }
  });

  it('kill -9 of the replica running a task: another takes it over from its lease', async () => {
    const [a, b] = [replica(0), replica(1)];
    const onA = await clientFor(`${a.url}/a2a/steps/`);
    const onB = await clientFor(`${b.url}/a2a/steps/`);
    const created = await onA.sendMessage(sendRequest('work', { returnImmediately: true }));
    if (!('status' in created)) throw new Error('expected a task');

    const stream = onB.resubscribeTask({ tenant: '', id: created.id });
    const seen: string[] = [];
    for (;;) {
      const next = await stream.next();
      if (next.done) throw new Error('stream ended before step 1');
      const p = next.value.payload;
      if (p?.$case === 'task') seen.push(...p.value.artifacts.map((x) => x.artifactId));
      if (p?.$case === 'artifactUpdate') seen.push(p.value.artifact?.artifactId ?? '');
      if (seen.includes('step-1')) break;
    }
    a.process.child.kill('SIGKILL');
    await a.process.exited;

    let last: TaskState | undefined;
    for await (const event of stream) {
      if (event.payload?.$case === 'statusUpdate') last = event.payload.value.status?.state;
    }
    expect(last).toBe(TaskState.TASK_STATE_COMPLETED);
    const done = await onB.getTask({ tenant: '', id: created.id });
    expect(done.metadata?.['agentd.attempt']).toBe(2);
    expect(done.artifacts.map((x) => x.artifactId)).toEqual(['step-1', 'step-2', 'step-3', 'step-4']);
    // Step 1's side effect ran once, on A; the rest on the replica that took over.
    const steps = readFileSync(sideEffects, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith(created.id))
      .map((l) => l.split(' ')[1]);
    expect(steps).toEqual(['step-1', 'step-2', 'step-3', 'step-4']);
  });

  it('kill -9 of the master holding the work queue: its replica takes over and service resumes', async () => {
    const [b, c] = [replica(1), replica(2)];
    const acknowledged: string[] = [];
    /** When the master was killed, and when the first request sent after that succeeded (0: not yet). */
    const failover = { killedAt: 0, resumedAt: 0 };
    const send = async (on: string): Promise<void> => {
      const startedAt = Date.now();
      try {
        const res = await rpc(on, 'countdown', 'SendMessage', { message: messageJson('count to 2') });
        const id = (res.json.result as { task?: { id?: string } } | undefined)?.task?.id;
        if (!id) throw new Error(JSON.stringify(res.json.error));
        acknowledged.push(id);
        if (failover.killedAt && !failover.resumedAt && startedAt >= failover.killedAt)
          failover.resumedAt = Date.now();
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    while (acknowledged.length < 10) await send(b.url);
    const queuePort = await masterPortOf(
      { port: cluster.nodes[0]?.port as number, password: PASSWORD },
      'cl:{q}:work',
    );
    const victim = cluster.nodes.find((n) => n.port === queuePort);
    if (!victim) throw new Error('the queue master is not one of ours');
    const survivor = cluster.nodes.find((n) => n.port !== queuePort) as (typeof cluster.nodes)[number];
    failover.killedAt = Date.now();
    process.kill(victim.pid, 'SIGKILL');
    while (!failover.resumedAt && Date.now() - failover.killedAt < 20_000)
      await send(acknowledged.length % 2 ? b.url : c.url);
    for (let i = 0; i < 5; i++) await send(c.url);
    expect(failover.resumedAt, 'service did not resume within 20 s').toBeGreaterThan(0);
    await pollUntil(
      async () =>
        (await masterPortOf({ port: survivor.port, password: PASSWORD }, 'cl:{q}:work')) !== queuePort,
      5000,
      'the replica to be promoted',
    );
    let lost = 0;
    for (const id of acknowledged) {
      const res = await rpc(c.url, 'countdown', 'GetTask', { id });
      const state = (res.json.result as { status?: { state?: string } } | undefined)?.status?.state;
      if (state !== 'TASK_STATE_COMPLETED') lost++;
    }
    console.warn(
      `Cluster failover: service resumed ${failover.resumedAt - failover.killedAt} ms after SIGKILL of the queue's master; ` +
        `${acknowledged.length} tasks acknowledged, ${lost} lost`,
    );
    expect(lost).toBe(0);
    expect(String(await redisCall({ port: survivor.port, password: PASSWORD }, 'CLUSTER', 'INFO'))).toContain(
      'cluster_state:ok',
    );
  });
});
