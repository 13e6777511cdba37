/**
 * agentd behind Redis Sentinel (a master, one replica, three Sentinels, all real processes)
 * when the master is killed with SIGKILL under light load: Sentinel promotes the replica,
 * agentd finds it and serves again, and with `waitReplicas: 1` no task it acknowledged is
 * lost. The time to resume and the tasks lost are printed (docs/distributed.md quotes them).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  removeWorkDir,
  spawnAgentd,
  stopStarted,
  writeConfig,
  type Agentd,
} from '../helpers/agentd-process.js';
import { SENTINEL_MASTER, startRedisSentinel, type RedisSentinelGroup } from '../helpers/redis-sentinel.js';
import { messageJson, rpc } from '../helpers/wire.js';

const MASTER_PASSWORD = 'master-secret-5f1c';
const SENTINEL_PASSWORD = 'sentinel-secret-9a2e';

describe('agentd on Redis Sentinel when the master dies', () => {
  let group: RedisSentinelGroup;
  let agentd: Agentd;
  let url: string;

  beforeAll(async () => {
    group = await startRedisSentinel({ password: MASTER_PASSWORD, sentinelPassword: SENTINEL_PASSWORD });
    const config = writeConfig(
      'sentinel.yaml',
      JSON.stringify({
        server: { host: '127.0.0.1', grpcPort: 0 },
        store: { kind: 'redis', redis: { keyPrefix: 'sn:', waitReplicas: 1, waitTimeoutMs: 200 } },
        logging: { level: 'info' },
        prometheus: { port: 0 },
        agents: [{ name: 'echo', kind: 'echo', default: true }],
      }),
    );
    agentd = spawnAgentd(['serve', '--config', config, '--port', '0'], {
      REDIS_SENTINELS: group.addresses.join(','),
      REDIS_SENTINEL_MASTER: SENTINEL_MASTER,
      REDIS_PASSWORD: MASTER_PASSWORD,
      REDIS_SENTINEL_PASSWORD: SENTINEL_PASSWORD,
    });
    url = await agentd.url;
  }, 300_000);

  afterAll(async () => {
    stopStarted();
    removeWorkDir();
    await group?.stop();
  });

  it('the replica is promoted, service resumes within seconds, and no acknowledged task is lost', async () => {
    expect(agentd.stderr()).toContain(`redis sentinel ${SENTINEL_MASTER}@127.0.0.1:`);
    const acknowledged: string[] = [];
    let failures = 0;
    /** When the master was killed, and when the first request sent after that succeeded (0: not yet). */
    const failover = { killedAt: 0, resumedAt: 0 };
    /** One client sending one message after another (light load): blocking sends of a short task. */
    const send = async (): Promise<void> => {
      const startedAt = Date.now();
      try {
        const res = await rpc(url, 'echo', 'SendMessage', { message: messageJson('hello') });
        const id = (res.json.result as { task?: { id?: string } } | undefined)?.task?.id;
        if (!id) throw new Error(JSON.stringify(res.json.error));
        acknowledged.push(id);
        if (failover.killedAt && !failover.resumedAt && startedAt >= failover.killedAt)
          failover.resumedAt = Date.now();
      } catch {
        failures++;
        await new Promise((r) => setTimeout(r, 20)); // do not spin on a refused request
      }
    };
    while (acknowledged.length < 20) await send();
    const before = acknowledged.length;

    failover.killedAt = Date.now();
    process.kill(group.master.pid, 'SIGKILL');
    while (!failover.resumedAt && Date.now() - failover.killedAt < 20_000) await send();
    for (let i = 0; i < 10; i++) await send();

    expect(failover.resumedAt, 'service did not resume within 20 s').toBeGreaterThan(0);
    expect(await group.masterPort()).toBe(group.replica.port);
    // Every task agentd acknowledged, before and after the failover, is still there and finished.
    let lost = 0;
    for (const id of acknowledged) {
      const res = await rpc(url, 'echo', 'GetTask', { id });
      const state = (res.json.result as { status?: { state?: string } } | undefined)?.status?.state;
      if (state !== 'TASK_STATE_COMPLETED') lost++;
    }
    const resumeMs = failover.resumedAt - failover.killedAt;
    console.warn(
      `Sentinel failover: service resumed ${resumeMs} ms after SIGKILL of the master; ` +
        `${acknowledged.length} tasks acknowledged (${before} before the kill), ${lost} lost, ` +
        `${failures} requests refused meanwhile`,
    );
    expect(lost).toBe(0);
    expect(resumeMs).toBeLessThan(20_000);
    expect((await fetch(`${url}/ready`)).status).toBe(200);
    // The outage was logged, naming the Sentinels and the master, and no password was printed.
    const lostLog = await agentd.waitForLog((l) => l.msg === 'Redis connection lost; retrying');
    expect(lostLog.redis).toBe(`sentinel ${SENTINEL_MASTER}@${group.addresses.join(',')}`);
    for (const secret of [MASTER_PASSWORD, SENTINEL_PASSWORD]) {
      expect(JSON.stringify(agentd.logs())).not.toContain(secret);
      expect(agentd.stderr()).not.toContain(secret);
    }
  });
});
