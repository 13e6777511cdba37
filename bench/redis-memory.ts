/**
 * Redis memory per finished task: runs N echo tasks through agentd's engine on the Redis
 * store (a real redis-server on a free loopback port), then reads `INFO memory` and the
 * key count, and checks that retention bounds what stays: with `maxTerminalTasks` below
 * N, memory must stop growing once the cap is reached.
 *
 * Writes bench/results/redis-memory.{json,md}. `BENCH_TASKS` sets N (default 5000).
 */
import { ServerCallContext } from '@a2a-js/sdk/server';
import { Role } from '@a2a-js/sdk';
import { Redis } from 'ioredis';
import { mkdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { configSchema } from '../src/config/schema.js';
import { AgentdServer } from '../src/server/agentd-server.js';
import { startRedis } from '../test/helpers/redis-server.js';
import { machineInfo, writeFormatted } from './lib/report.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS_DIR = join(ROOT, 'bench/results');
const TASKS = Number(process.env.BENCH_TASKS ?? 10_000);
/** The bench lets finished tasks' event streams expire after this (default 30 s in production). */
const CLOSED_STREAM_SECONDS = 1;
const PREFIX = 'memtest:';

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  const m = /used_memory:(\d+)/.exec(info);
  if (!m) throw new Error('INFO memory has no used_memory');
  return Number(m[1]);
}

/** Runs `count` blocking echo tasks and returns Redis's used memory afterwards. */
async function runTasks(server: AgentdServer, count: number): Promise<void> {
  const agent = server.engine.agent('echo');
  for (let i = 0; i < count; i++) {
    await server.engine.sendMessage(
      agent,
      {
        tenant: '',
        message: {
          messageId: `m-${i}`,
          contextId: '',
          taskId: '',
          role: Role.ROLE_USER,
          parts: [
            {
              content: { $case: 'text', value: 'hello redis' },
              metadata: undefined,
              filename: '',
              mediaType: '',
            },
          ],
          metadata: undefined,
          extensions: [],
          referenceTaskIds: [],
        },
        configuration: undefined,
        metadata: undefined,
      },
      new ServerCallContext(),
    );
  }
}

interface Measure {
  bytesPerTask: number;
  keys: number;
  usedBytes: number;
}

/**
 * Runs TASKS echo tasks, then measures twice: right after the run (each finished task's
 * event stream still readable, within its grace period) and once those streams expired.
 */
async function measure(
  redisUrl: string,
  maxTerminalTasks: number,
): Promise<{ withStreams: Measure; retained: Measure }> {
  const client = new Redis(redisUrl);
  await client.flushall();
  const config = configSchema.parse({
    server: { host: '127.0.0.1', httpPort: 0, transport: 'http' },
    store: {
      kind: 'redis',
      redis: { url: redisUrl, keyPrefix: PREFIX },
      retention: { maxTerminalTasks, closedStreamSeconds: CLOSED_STREAM_SECONDS },
    },
    agents: [{ name: 'echo', kind: 'echo' }],
  });
  const server = await AgentdServer.create(config, pino({ level: 'warn' }), ROOT);
  await server.start();
  await runTasks(server, 50); // connections, scripts and registry entry in place
  await waitForStreamsToExpire(client);
  const before = await usedMemory(client);
  await runTasks(server, TASKS);
  const sample = async (): Promise<Measure> => {
    const usedBytes = await usedMemory(client);
    return { bytesPerTask: (usedBytes - before) / TASKS, keys: await client.dbsize(), usedBytes };
  };
  const withStreams = await sample();
  // Retention's count cap is enforced off the request path; let it catch up, as it does in service.
  await (server.store as unknown as { tasks: { sweep(): Promise<number> } }).tasks.sweep();
  await waitForStreamsToExpire(client);
  const retained = await sample();
  await server.shutdown(1000);
  await client.quit();
  return { withStreams, retained };
}

/** Waits until no event stream is left (they expire CLOSED_STREAM_SECONDS after their task finished). */
async function waitForStreamsToExpire(client: Redis): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const [, keys] = await client.scan('0', 'MATCH', `${PREFIX}*:events`, 'COUNT', 100_000);
    if (keys.length === 0) return;
    if (Date.now() > deadline) throw new Error(`${keys.length} event streams did not expire`);
    // Redis expires keys in the background: poll it (there is no event to wait for).
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function main(): Promise<void> {
  const redis = await startRedis();
  try {
    const unbounded = await measure(redis.url, TASKS * 2);
    const capped = await measure(redis.url, Math.floor(TASKS / 10));
    const date = new Date().toISOString();
    const m = machineInfo();
    const n = (x: number): string => x.toLocaleString('en-US');
    const row = (label: string, when: string, r: Measure, note = ''): string =>
      `| ${label} | ${when} | ${r.bytesPerTask.toFixed(0)}${note} | ${n(r.keys)} | ${(r.usedBytes / 1048576).toFixed(1)} |`;
    const md = [
      '# Redis memory per finished task',
      '',
      `${date} · ${m.cpus} cores · Node ${m.node} · ${n(TASKS)} echo tasks (blocking SendMessage) per measure`,
      '',
      '| retention `maxTerminalTasks` | measured | bytes of Redis memory per finished task | keys | used_memory MB |',
      '| ---: | --- | ---: | ---: | ---: |',
      row(`${n(TASKS * 2)} (all kept)`, 'right after the run', unbounded.withStreams),
      row(`${n(TASKS * 2)} (all kept)`, 'event streams expired', unbounded.retained),
      row(
        n(Math.floor(TASKS / 10)),
        'event streams expired',
        capped.retained,
        ` (amortised over all ${n(TASKS)})`,
      ),
      '',
      `A finished echo task keeps its hash (the snapshot) and its entries in three listing indexes and`,
      `the finish-time index, until retention evicts them. Its event stream and sequence counter stay`,
      `readable for \`store.retention.closedStreamSeconds\` after it finished (30 s by default, ${CLOSED_STREAM_SECONDS} s in this`,
      `bench) for a subscriber still behind; SubscribeToTask on a finished task is an error by the spec,`,
      `and a late resume gets the final task from the snapshot. With the count cap, what stays is bounded`,
      `by the cap, whatever the number of tasks run.`,
    ].join('\n');
    mkdirSync(RESULTS_DIR, { recursive: true });
    await writeFormatted(
      join(RESULTS_DIR, 'redis-memory.json'),
      JSON.stringify({
        benchmark: 'redis-memory',
        date,
        machine: m,
        tasks: TASKS,
        closedStreamSeconds: CLOSED_STREAM_SECONDS,
        unbounded,
        capped,
      }),
      'json',
    );
    const out = await writeFormatted(join(RESULTS_DIR, 'redis-memory.md'), md, 'markdown');
    console.log(
      `\n${out}\nResults written to ${relative(process.cwd(), RESULTS_DIR)}/redis-memory.{json,md}`,
    );
  } finally {
    await redis.stop();
  }
}

await main();
