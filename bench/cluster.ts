/**
 * Redis Cluster against one Redis, in one run: two agentd replicas on a single redis-server,
 * then two on a Cluster of three masters (each with a replica) started on loopback. Per
 * mode: SendMessage req/s at 32 connections (wrk against replica A's echo agent, every
 * request its own messageId) and cross-replica event delivery p50/p99 (a ticker task runs on
 * B, the client follows it on A). Both without AOF, so the topology is what differs.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { startRedisCluster } from '../test/helpers/redis-cluster.js';
import { startRedis } from '../test/helpers/redis-server.js';
import { tickTime } from './agents/ticker-agent.js';
import { compileToTempModule } from './lib/compile.js';
import { freePort, startServer, type RunningServer } from './lib/proc.js';
import {
  durationSeconds,
  machineInfo,
  positiveIntEnv,
  printOutcome,
  runBenchmark,
  writeFormatted,
} from './lib/report.js';
import { agentdSpec } from './lib/servers.js';
import { subscribe } from './lib/sse-subscribe.js';
import { percentile } from './lib/stats.js';
import { ensureWrk, runWrk } from './lib/wrk.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS_DIR = join(ROOT, 'bench/results');
const SCRIPT = join(ROOT, 'bench/lua/jsonrpc-send.lua');
const SECONDS = durationSeconds(10);
const TICKS = positiveIntEnv('BENCH_TICKS', 1000);
const EVERY_MS = 2;

interface ModeResult {
  readonly mode: string;
  readonly requestsPerSecond: number;
  readonly sendP50: number;
  readonly sendP99: number;
  readonly eventP50: number;
  readonly eventP99: number;
}

function writeConfig(name: string): string {
  const ticker = compileToTempModule(join(ROOT, 'bench/agents/ticker-agent.ts'), ROOT);
  const config = parse(readFileSync(join(ROOT, 'bench/agentd-bench.yaml'), 'utf8')) as {
    agents: Record<string, unknown>[];
  };
  config.agents.push({ name: 'ticker', kind: 'module', module: ticker, export: 'tickerExecutor' });
  const file = join(dirname(ticker), `agentd-cluster-${name}.yaml`);
  writeFileSync(file, stringify(config));
  return file;
}

async function replicas(name: string, env: Record<string, string>): Promise<[RunningServer, RunningServer]> {
  const config = writeConfig(name);
  const started: RunningServer[] = [];
  for (const replica of ['A', 'B'])
    started.push(
      await startServer(
        agentdSpec({
          name: `${name}-${replica}`,
          root: ROOT,
          config,
          port: await freePort(),
          args: ['--store', 'redis'],
          env,
        }),
      ),
    );
  return started as [RunningServer, RunningServer];
}

/** One ticker task on `runOn`, followed on `subscribeOn`: each tick's delivery latency in ms. */
async function crossReplica(runOn: RunningServer, subscribeOn: RunningServer): Promise<number[]> {
  const res = await fetch(`http://127.0.0.1:${runOn.port}/a2a/ticker/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'SendMessage',
      params: {
        message: {
          messageId: `cluster-${Date.now()}`,
          role: 'ROLE_USER',
          parts: [{ text: `ticks ${TICKS} every ${EVERY_MS} after 500` }],
        },
        configuration: { returnImmediately: true },
      },
    }),
  });
  const id = ((await res.json()) as { result?: { task?: { id: string } } }).result?.task?.id;
  if (!id) throw new Error('the ticker task was not created');
  const latencies: number[] = [];
  for (const { at, data } of await subscribe(`http://127.0.0.1:${subscribeOn.port}/a2a/ticker/`, id)) {
    const text = (
      JSON.parse(data) as {
        result?: { artifactUpdate?: { artifact?: { parts?: Array<{ text?: string }> } } };
      }
    ).result?.artifactUpdate?.artifact?.parts?.[0]?.text;
    if (text !== undefined) latencies.push(at - tickTime(text));
  }
  if (latencies.length !== TICKS) throw new Error(`expected ${TICKS} ticks, got ${latencies.length}`);
  return latencies.sort((a, b) => a - b);
}

async function measure(mode: string, env: Record<string, string>): Promise<ModeResult> {
  const [a, b] = await replicas(mode, env);
  try {
    const url = `http://127.0.0.1:${a.port}/a2a/echo/`;
    await runWrk({ url, connections: 32, durationSeconds: 3, script: SCRIPT });
    const run = await runWrk({ url, connections: 32, durationSeconds: SECONDS, script: SCRIPT });
    await crossReplica(b, a); // warm-up
    const events = await crossReplica(b, a);
    return {
      mode,
      requestsPerSecond: run.requestsPerSecond,
      sendP50: run.latencyMs.p50,
      sendP99: run.latencyMs.p99,
      eventP50: percentile(events, 50),
      eventP99: percentile(events, 99),
    };
  } finally {
    await a.stop();
    await b.stop();
  }
}

function markdown(results: readonly ModeResult[], date: string): string {
  const m = machineInfo();
  const single = results.find((r) => r.mode === 'single Redis');
  const rows = results.map(
    (r) =>
      `| ${r.mode} | ${r.requestsPerSecond.toFixed(0)} | ${single ? (r.requestsPerSecond / single.requestsPerSecond).toFixed(2) : ''} | ${r.sendP50.toFixed(2)} | ${r.sendP99.toFixed(2)} | ${r.eventP50.toFixed(3)} | ${r.eventP99.toFixed(3)} |`,
  );
  return [
    `${date} · Node ${m.node} · ${m.cpus} × ${m.cpuModel} · two agentd replicas; wrk ${SECONDS} s at 32 connections; ${TICKS} ticks ${EVERY_MS} ms apart`,
    '',
    '| store | SendMessage req/s | ÷ single | send p50 ms | send p99 ms | cross-replica event p50 ms | p99 ms |',
    '| ----- | ----------------: | -------: | ----------: | ----------: | -------------------------: | -----: |',
    ...rows,
    '',
    'The Cluster is three masters with a replica each, six redis-server processes on the same 2',
    'cores as both agentd replicas and the client: it measures what the Cluster protocol costs',
    '(slot routing, a connection per node), not the capacity more machines would add.',
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  ensureWrk();
  const results: ModeResult[] = [];
  const single = await startRedis({ appendonly: false });
  try {
    console.log('== single Redis');
    results.push(await measure('single Redis', { REDIS_URL: single.url }));
  } finally {
    await single.stop();
  }
  const cluster = await startRedisCluster({ masters: 3 });
  try {
    console.log('== Redis Cluster (3 masters + 3 replicas)');
    results.push(await measure('Redis Cluster', { REDIS_CLUSTER_NODES: cluster.addresses.join(',') }));
  } finally {
    await cluster.stop();
  }
  const date = new Date().toISOString();
  mkdirSync(RESULTS_DIR, { recursive: true });
  await writeFormatted(
    join(RESULTS_DIR, 'cluster.json'),
    JSON.stringify({ benchmark: 'cluster', date, machine: machineInfo(), results }),
    'json',
  );
  const md = await writeFormatted(join(RESULTS_DIR, 'cluster.md'), markdown(results, date), 'markdown');
  printOutcome(md, [], `${relative(process.cwd(), RESULTS_DIR)}/cluster.{json,md}`);
}

runBenchmark(main);
