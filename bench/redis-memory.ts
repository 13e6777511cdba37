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
const TASKS = Number(process.env.BENCH_TASKS ?? 5000);
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

async function measure(
  redisUrl: string,
  maxTerminalTasks: number,
): Promise<{ bytesPerTask: number; keys: number; usedBytes: number }> {
  const client = new Redis(redisUrl);
  await client.flushall();
  const config = configSchema.parse({
    server: { host: '127.0.0.1', httpPort: 0, transport: 'http' },
    store: { kind: 'redis', redis: { url: redisUrl, keyPrefix: PREFIX }, retention: { maxTerminalTasks } },
    agents: [{ name: 'echo', kind: 'echo' }],
  });
  const server = await AgentdServer.create(config, pino({ level: 'warn' }), ROOT);
  await server.start();
  await runTasks(server, 50); // connections, scripts and registry entry in place
  const before = await usedMemory(client);
  await runTasks(server, TASKS);
  const usedBytes = await usedMemory(client);
  const keys = await client.dbsize();
  await server.shutdown(1000);
  await client.quit();
  return { bytesPerTask: (usedBytes - before) / TASKS, keys, usedBytes };
}

async function main(): Promise<void> {
  const redis = await startRedis();
  try {
    const unbounded = await measure(redis.url, TASKS * 2);
    const capped = await measure(redis.url, Math.floor(TASKS / 10));
    const date = new Date().toISOString();
    const m = machineInfo();
    const md = [
      '# Redis memory per finished task',
      '',
      `${date} · ${m.cpus} cores · Node ${m.node} · ${TASKS.toLocaleString('en-US')} echo tasks (blocking SendMessage) per measure`,
      '',
      '| retention `maxTerminalTasks` | bytes of Redis memory per finished task | keys after the run | used_memory MB |',
      '| ---: | ---: | ---: | ---: |',
      `| ${(TASKS * 2).toLocaleString('en-US')} (all kept) | ${unbounded.bytesPerTask.toFixed(0)} | ${unbounded.keys.toLocaleString('en-US')} | ${(unbounded.usedBytes / 1048576).toFixed(1)} |`,
      `| ${Math.floor(TASKS / 10).toLocaleString('en-US')} | ${capped.bytesPerTask.toFixed(0)} (amortised over all ${TASKS.toLocaleString('en-US')}) | ${capped.keys.toLocaleString('en-US')} | ${(capped.usedBytes / 1048576).toFixed(1)} |`,
      '',
      'A finished echo task keeps its hash (snapshot), its event stream (4 events), its sequence counter and',
      'three index entries until retention evicts them together; with the cap, what stays is bounded by',
      'the cap, whatever the number of tasks run.',
    ].join('\n');
    mkdirSync(RESULTS_DIR, { recursive: true });
    await writeFormatted(
      join(RESULTS_DIR, 'redis-memory.json'),
      JSON.stringify({ benchmark: 'redis-memory', date, machine: m, tasks: TASKS, unbounded, capped }),
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
