/**
 * Cross-replica event delivery: two agentd processes (A and B) on one redis-server (AOF
 * on). The `ticker` agent runs a task on B and publishes an artifact chunk every few ms,
 * each stamped with its publish time; an SSE client subscribed with JSON-RPC
 * SubscribeToTask measures when each chunk arrives. Side by side in one run: the client
 * on B itself (same replica: the event still goes through Redis Streams, since B's
 * subscriber reads the log too) and on A (another replica). Latency = arrival − publish,
 * both on the machine's wall clock (`performance.timeOrigin + performance.now()`).
 *
 * Writes bench/results/cross-replica.{json,md}. `BENCH_TICKS` sets the ticks per measured
 * stream (default 2000, one every 2 ms).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { startRedis } from '../test/helpers/redis-server.js';
import { tickTime } from './agents/ticker-agent.js';
import { compileToTempModule } from './lib/compile.js';
import { freePort, startServer, type RunningServer } from './lib/proc.js';
import {
  machineInfo,
  positiveIntEnv,
  printOutcome,
  runBenchmark,
  writeFormatted,
  type TargetResult,
} from './lib/report.js';
import { agentdSpec } from './lib/servers.js';
import { percentile } from './lib/stats.js';
import { subscribe } from './lib/sse-subscribe.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS_DIR = join(ROOT, 'bench/results');
const TICKS = positiveIntEnv('BENCH_TICKS', 2000);
const EVERY_MS = 2;
/** The agent waits this long before its first tick, so the subscriber is attached by then. */
const START_AFTER_MS = 500;
const TARGET_P99_MS = 5;

interface Mode {
  readonly name: string;
  readonly description: string;
  /** Where the task runs and where the client subscribes. */
  readonly runOn: RunningServer;
  readonly subscribeOn: RunningServer;
}

interface ModeResult {
  readonly mode: string;
  readonly description: string;
  readonly ticks: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** The parts of a JSON-RPC stream result this benchmark reads. */
interface StreamJson {
  artifactUpdate?: { artifact?: { parts?: Array<{ text?: string }> } };
  statusUpdate?: { status?: { state?: string } };
}

function rpcUrl(server: RunningServer): string {
  return `http://127.0.0.1:${server.port}/a2a/ticker/`;
}

async function rpc(url: string, method: string, params: unknown): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
}

/** One stream of `ticks` ticks: the task runs on one replica, the client subscribes on another; latencies in ms. */
async function measure(mode: Mode, ticks: number): Promise<number[]> {
  const sent = await rpc(rpcUrl(mode.runOn), 'SendMessage', {
    message: {
      messageId: `m-${Date.now()}`,
      role: 'ROLE_USER',
      parts: [{ text: `ticks ${ticks} every ${EVERY_MS} after ${START_AFTER_MS}` }],
    },
    configuration: { returnImmediately: true },
  });
  const body = (await sent.json()) as { result?: { task?: { id: string } }; error?: unknown };
  const taskId = body.result?.task?.id;
  if (!taskId) throw new Error(`SendMessage to ${mode.runOn.name} failed: ${JSON.stringify(body)}`);
  const arrivals = await subscribe(rpcUrl(mode.subscribeOn), taskId);
  const latencies: number[] = [];
  let completed = false;
  for (const { at, data } of arrivals) {
    const result = (JSON.parse(data) as { result?: StreamJson }).result ?? {};
    const text = result.artifactUpdate?.artifact?.parts?.[0]?.text;
    if (text !== undefined) latencies.push(at - tickTime(text));
    if (result.statusUpdate?.status?.state === 'TASK_STATE_COMPLETED') completed = true;
  }
  if (!completed) throw new Error(`the ticker task on ${mode.runOn.name} did not complete`);
  if (latencies.length !== ticks)
    throw new Error(`expected ${ticks} ticks on ${mode.subscribeOn.name}, got ${latencies.length}`);
  return latencies;
}

function summarise(mode: Mode, latencies: number[]): ModeResult {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    mode: mode.name,
    description: mode.description,
    ticks: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

/** bench/agentd-bench.yaml plus the ticker agent. */
function writeConfig(): string {
  const ticker = compileToTempModule(join(ROOT, 'bench/agents/ticker-agent.ts'), ROOT);
  const config = parse(readFileSync(join(ROOT, 'bench/agentd-bench.yaml'), 'utf8')) as {
    agents: Record<string, unknown>[];
  };
  config.agents.push({ name: 'ticker', kind: 'module', module: ticker, export: 'tickerExecutor' });
  const file = join(dirname(ticker), 'agentd-cross-replica.yaml');
  writeFileSync(file, stringify(config));
  return file;
}

function markdown(results: ModeResult[], targets: TargetResult[], date: string): string {
  const m = machineInfo();
  const lines = [
    '#### Cross-replica event delivery (Redis Streams)',
    '',
    `${date} · Node ${m.node} · ${m.cpus} × ${m.cpuModel} · two agentd processes on one redis-server ` +
      `(AOF on) · ${TICKS} ticks, one every ${EVERY_MS} ms, per stream`,
    '',
    '| subscriber | ticks | p50 ms | p90 ms | p99 ms | max ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...results.map(
      (r) =>
        `| ${r.description} | ${r.ticks} | ${r.p50.toFixed(3)} | ${r.p90.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.max.toFixed(3)} |`,
    ),
    '',
    '| target | actual | result |',
    '| --- | ---: | --- |',
    ...targets.map((t) => `| ${t.description} | ${t.actual.toFixed(3)} | ${t.pass ? 'PASS' : '**FAIL**'} |`),
    '',
    'Latency is from the agent publishing a chunk to the SSE client receiving it. On Redis the run',
    "appends it to the task's Redis Stream and the subscriber's replica reads it with XREAD BLOCK and",
    'writes the SSE frame; a subscriber on B itself reads the same stream, so those two rows differ',
    'only by which process reads it. The embedded row is the same path without Redis: what this',
    'machine (2 cores shared by the client, the agentd processes and Redis) adds to any delivery.',
  ];
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const redis = await startRedis({ appendonly: process.env.BENCH_AOF !== '0' });
  const servers: RunningServer[] = [];
  try {
    const config = writeConfig();
    for (const name of ['replica-A', 'replica-B']) {
      servers.push(
        await startServer(
          agentdSpec({
            name,
            root: ROOT,
            config,
            port: await freePort(),
            args: ['--store', 'redis'],
            env: { REDIS_URL: redis.url },
          }),
        ),
      );
    }
    // The floor of this machine: one agentd on the embedded store, subscriber and task in one process.
    servers.push(
      await startServer(
        agentdSpec({
          name: 'embedded',
          root: ROOT,
          config,
          port: await freePort(),
          args: ['--store', 'memory'],
        }),
      ),
    );
    const [a, b, embedded] = servers as [RunningServer, RunningServer, RunningServer];
    const modes: Mode[] = [
      {
        name: 'embedded',
        description: 'embedded store, one process (no Redis: the floor)',
        runOn: embedded,
        subscribeOn: embedded,
      },
      { name: 'same-replica', description: 'Redis, on B where the task runs', runOn: b, subscribeOn: b },
      { name: 'cross-replica', description: 'Redis, on A (another replica)', runOn: b, subscribeOn: a },
    ];
    const results: ModeResult[] = [];
    for (const mode of modes) {
      console.log(`== ${mode.name}: warm-up`);
      await measure(mode, 200);
      console.log(`== ${mode.name}: ${TICKS} ticks`);
      results.push(summarise(mode, await measure(mode, TICKS)));
      const r = results[results.length - 1] as ModeResult;
      console.log(`   p50 ${r.p50.toFixed(3)} ms, p99 ${r.p99.toFixed(3)} ms, max ${r.max.toFixed(3)} ms`);
    }
    const cross = results.find((r) => r.mode === 'cross-replica');
    if (!cross) throw new Error('no cross-replica result');
    const targets: TargetResult[] = [
      {
        id: 'cross-replica-p99-ms',
        description: `cross-replica delivery p99 <= ${TARGET_P99_MS} ms`,
        threshold: TARGET_P99_MS,
        actual: cross.p99,
        pass: cross.p99 <= TARGET_P99_MS,
      },
    ];
    const date = new Date().toISOString();
    mkdirSync(RESULTS_DIR, { recursive: true });
    await writeFormatted(
      join(RESULTS_DIR, 'cross-replica.json'),
      JSON.stringify({
        benchmark: 'cross-replica',
        date,
        machine: machineInfo(),
        config: { ticks: TICKS, everyMs: EVERY_MS },
        results,
        targets,
      }),
      'json',
    );
    const md = await writeFormatted(
      join(RESULTS_DIR, 'cross-replica.md'),
      markdown(results, targets, date),
      'markdown',
    );
    printOutcome(md, targets, `${relative(process.cwd(), RESULTS_DIR)}/cross-replica.{json,md}`);
  } finally {
    for (const s of servers) await s.stop();
    await redis.stop();
  }
}

runBenchmark(main);
