/**
 * Streams at scale: 5,000 concurrent SubscribeToTask streams on one agentd replica on
 * Redis (100 ticker tasks × 50 subscribers each), with the shared stream readers (default)
 * and with one Redis connection per open stream, in the same run. Reported per mode: the
 * Redis connections the replica holds while every stream is open (CLIENT LIST, the baseline
 * before the streams taken off), delivery latency p50/p99 of every tick to every subscriber
 * (published-at time in the tick to arrival at the client), and the replica's RSS.
 *
 * BENCH_TASKS and BENCH_SUBSCRIBERS (per task) change the shape; BENCH_TICKS the ticks
 * per task.
 */
import { Redis } from 'ioredis';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { startRedis } from '../test/helpers/redis-server.js';
import { tickTime } from './agents/ticker-agent.js';
import { compileToTempModule } from './lib/compile.js';
import { freePort, readRssMb, startServer } from './lib/proc.js';
import { machineInfo, positiveIntEnv, printOutcome, runBenchmark, writeFormatted } from './lib/report.js';
import { agentdSpec } from './lib/servers.js';
import { subscribe } from './lib/sse-subscribe.js';
import { percentile } from './lib/stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS_DIR = join(ROOT, 'bench/results');
const TASKS = positiveIntEnv('BENCH_TASKS', 100);
const PER_TASK = positiveIntEnv('BENCH_SUBSCRIBERS', 50);
const TICKS = positiveIntEnv('BENCH_TICKS', 10);
const EVERY_MS = positiveIntEnv('BENCH_EVERY_MS', 1000);

interface ModeResult {
  readonly mode: string;
  /** Why the mode could not be measured (the run went on with the other). */
  readonly failed?: string;
  readonly subscribers: number;
  readonly deliveries: number;
  readonly redisConnections: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly rssMb: number;
}

function writeConfig(redisUrl: string, shared: boolean): string {
  const ticker = compileToTempModule(join(ROOT, 'bench/agents/ticker-agent.ts'), ROOT);
  const config = parse(readFileSync(join(ROOT, 'bench/agentd-bench.yaml'), 'utf8')) as Record<
    string,
    unknown
  > & {
    agents: Record<string, unknown>[];
  };
  config.agents.push({ name: 'ticker', kind: 'module', module: ticker, export: 'tickerExecutor' });
  config.store = { kind: 'redis', redis: { url: redisUrl, sharedStreamReader: shared } };
  config.execution = { maxConcurrentWorkflows: TASKS + 10, maxQueueDepth: TASKS * 2 };
  const file = join(dirname(ticker), `agentd-streams-${shared ? 'shared' : 'each'}.yaml`);
  writeFileSync(file, stringify(config));
  return file;
}

async function measure(redisUrl: string, shared: boolean): Promise<ModeResult> {
  const admin = new Redis(redisUrl);
  const server = await startServer(
    agentdSpec({
      name: shared ? 'shared' : 'each',
      root: ROOT,
      config: writeConfig(redisUrl, shared),
      port: await freePort(),
    }),
  );
  const url = `http://127.0.0.1:${server.port}/a2a/ticker/`;
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  try {
    const baseline = await connections(admin);
    // The tasks wait long enough for every subscriber to attach before their first tick.
    const startAfter = 2000 + TASKS * PER_TASK * 0.6;
    const ids: string[] = [];
    for (let i = 0; i < TASKS; i++) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: i,
          method: 'SendMessage',
          params: {
            message: {
              messageId: `streams-${shared}-${i}-${Date.now()}`,
              role: 'ROLE_USER',
              parts: [{ text: `ticks ${TICKS} every ${EVERY_MS} after ${Math.round(startAfter)}` }],
            },
            configuration: { returnImmediately: true },
          },
        }),
      });
      const body = (await res.json()) as { result?: { task?: { id: string } } };
      const id = body.result?.task?.id;
      if (!id) throw new Error(`SendMessage failed: ${JSON.stringify(body)}`);
      ids.push(id);
    }
    const streams: Array<Promise<Array<{ at: number; data: string }>>> = [];
    for (const id of ids) for (let j = 0; j < PER_TASK; j++) streams.push(subscribe(url, id, agent));
    // Sampled while every stream is open and ticking.
    await new Promise((r) => setTimeout(r, startAfter + (TICKS * EVERY_MS) / 2 - TASKS * 5));
    const held = (await connections(admin)) - baseline;
    const rssMb = readRssMb(server.pid);
    const latencies: number[] = [];
    for (const arrivals of await Promise.all(streams)) {
      for (const { at, data } of arrivals) {
        const text = (
          JSON.parse(data) as {
            result?: { artifactUpdate?: { artifact?: { parts?: Array<{ text?: string }> } } };
          }
        ).result?.artifactUpdate?.artifact?.parts?.[0]?.text;
        if (text !== undefined) latencies.push(at - tickTime(text));
      }
    }
    const expected = TASKS * PER_TASK * TICKS;
    if (latencies.length !== expected)
      throw new Error(`expected ${expected} deliveries, got ${latencies.length}`);
    latencies.sort((a, b) => a - b);
    return {
      mode: shared ? 'shared stream readers' : 'one connection per stream',
      subscribers: TASKS * PER_TASK,
      deliveries: latencies.length,
      redisConnections: held,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies[latencies.length - 1] ?? Number.NaN,
      rssMb,
    };
  } finally {
    agent.destroy();
    await server.stop();
    admin.disconnect();
  }
}

async function connections(admin: Redis): Promise<number> {
  return ((await admin.client('LIST')) as string).trim().split('\n').length;
}

function markdown(results: ModeResult[], date: string): string {
  const m = machineInfo();
  const rows = results.map((r) =>
    r.failed
      ? `| ${r.mode} | ${r.subscribers} | failed: ${r.failed} | | | | | |`
      : `| ${r.mode} | ${r.subscribers} | ${r.deliveries} | ${r.redisConnections} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.max.toFixed(1)} | ${r.rssMb.toFixed(0)} |`,
  );
  return [
    `${date} · Node ${m.node} · ${m.cpus} × ${m.cpuModel} · one agentd replica on one redis-server · ${TASKS} tasks × ${PER_TASK} subscribers, ${TICKS} ticks ${EVERY_MS} ms apart`,
    '',
    '| mode | open streams | deliveries | Redis connections held | delivery p50 ms | p99 ms | max ms | RSS MB |',
    '| ---- | -----------: | ---------: | ---------------------: | --------------: | -----: | -----: | -----: |',
    ...rows,
    '',
    'Redis connections held: CLIENT LIST while every stream is open, minus before the first one. Delivery:',
    "from the tick's published-at time (in the agent) to its arrival at the client, for every tick and",
    'every subscriber; the client, agentd and Redis share the 2 cores, so at 5,000 streams the tail is',
    "this machine's scheduling as much as agentd's.",
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const redis = await startRedis({ appendonly: false });
  try {
    const results: ModeResult[] = [];
    for (const shared of [true, false]) {
      console.log(`== ${shared ? 'shared' : 'one per stream'}: ${TASKS * PER_TASK} streams`);
      const r = await measure(redis.url, shared);
      console.log(
        `   ${r.redisConnections} Redis connections, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, RSS ${r.rssMb.toFixed(0)} MB`,
      );
      results.push(r);
    }
    const date = new Date().toISOString();
    mkdirSync(RESULTS_DIR, { recursive: true });
    await writeFormatted(
      join(RESULTS_DIR, 'streams.json'),
      JSON.stringify({
        benchmark: 'streams',
        date,
        machine: machineInfo(),
        config: { tasks: TASKS, perTask: PER_TASK, ticks: TICKS },
        results,
      }),
      'json',
    );
    const md = await writeFormatted(join(RESULTS_DIR, 'streams.md'), markdown(results, date), 'markdown');
    printOutcome(md, [], `${relative(process.cwd(), RESULTS_DIR)}/streams.{json,md}`);
  } finally {
    await redis.stop();
  }
}

runBenchmark(main);
