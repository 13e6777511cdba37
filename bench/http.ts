/**
 * HTTP JSON-RPC benchmark: `SendMessage` to the `echo` agent, agentd versus a
 * reference server built from the stock path of `@a2a-js/sdk`, measured with
 * wrk at 1 and 32 connections in the same run.
 *
 * Servers run one at a time so they never compete for CPU with each other.
 * Writes bench/results/http-jsonrpc.{json,md} and prints the markdown table.
 * Missed targets are reported but do not change the exit code (0): this is a
 * measurement, not a test. Any error (failed start, wrong echo semantics,
 * wrk errors) aborts with exit code 1.
 *
 * Environment:
 * - `BENCH_DURATION`: seconds per measured run (default 10).
 * - `BENCH_AGENTD_CMD`: harness development only. Replaces the agentd command
 *   line (split on whitespace, no shell) with one that behaves like the
 *   reference server: accepts `--port 0`, prints `LISTENING <port>` and serves
 *   JSON-RPC at `/`. Example:
 *   `BENCH_AGENTD_CMD="node --import tsx bench/reference/sdk-jsonrpc-server.ts"`.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { compileToTempModule } from './lib/compile.js';
import { freePort, readRssMb, startServer, type ServerSpec } from './lib/proc.js';
import { ensureWrk, runWrk, wrkVersion, type WrkResult } from './lib/wrk.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const LUA_SCRIPT = join(ROOT, 'bench/lua/jsonrpc-send.lua');
const REFERENCE_TS = join(ROOT, 'bench/reference/sdk-jsonrpc-server.ts');
const RESULTS_DIR = join(ROOT, 'bench/results');
const REFERENCE_NAME = 'sdk-reference';

const WARMUP_SECONDS = 3;
const WARMUP_CONNECTIONS = 32;
const CONNECTIONS = [1, 32] as const;
const DEFAULT_DURATION_SECONDS = 10;
const VERIFY_TIMEOUT_MS = 10_000;

const TARGET_THROUGHPUT_RATIO = 3;
const TARGET_P50_MS = 0.3;
const TARGET_IDLE_RSS_MB = 80;

/** A server to benchmark: how to start it and where its JSON-RPC endpoint is. */
interface Contender {
  spec: ServerSpec;
  path: string;
}

interface ServerResult {
  server: string;
  command: string;
  /** RSS in MiB after start-up and one verification request. */
  idleRssMb: number;
  /** RSS in MiB right after the last measured run. */
  rssAfterLoadMb: number;
  runs: WrkResult[];
}

interface TargetResult {
  id: string;
  description: string;
  threshold: number;
  actual: number;
  pass: boolean;
}

interface EchoResponse {
  result?: {
    task?: {
      status?: { state?: unknown };
      artifacts?: { parts?: { text?: unknown }[] }[];
    };
  };
  error?: unknown;
}

function durationSeconds(): number {
  const raw = process.env.BENCH_DURATION;
  if (raw === undefined || raw === '') return DEFAULT_DURATION_SECONDS;
  const secs = Number(raw);
  if (!Number.isInteger(secs) || secs < 1)
    throw new Error(`BENCH_DURATION must be a positive integer, got "${raw}"`);
  return secs;
}

/** Reads the request body from the wrk script so both use the very same bytes. */
function requestBody(): { body: string; text: string } {
  const body = /^wrk\.body\s*=\s*'([^']*)'\s*$/m.exec(readFileSync(LUA_SCRIPT, 'utf8'))?.[1];
  if (body === undefined) throw new Error(`no single-quoted wrk.body in ${LUA_SCRIPT}`);
  const parsed = JSON.parse(body) as { params?: { message?: { parts?: { text?: unknown }[] } } };
  const text = parsed.params?.message?.parts?.[0]?.text;
  if (typeof text !== 'string') throw new Error(`wrk.body in ${LUA_SCRIPT} has no text part`);
  return { body, text };
}

async function agentd(): Promise<Contender> {
  const override = process.env.BENCH_AGENTD_CMD?.trim();
  if (override) {
    const [command, ...args] = override.split(/\s+/);
    if (command === undefined) throw new Error('BENCH_AGENTD_CMD is empty');
    return {
      spec: {
        name: 'agentd (BENCH_AGENTD_CMD)',
        command,
        args: [...args, '--port', '0'],
        cwd: ROOT,
        readiness: { kind: 'listening-line' },
      },
      path: '/',
    };
  }
  const port = await freePort();
  return {
    spec: {
      name: 'agentd',
      command: process.execPath,
      args: [
        'bin/agentd.js',
        'serve',
        '--config',
        'bench/agentd-bench.yaml',
        '--port',
        String(port),
        '--host',
        '127.0.0.1',
        '--log-level',
        'warn',
      ],
      cwd: ROOT,
      readiness: { kind: 'health', port },
    },
    path: '/a2a/echo',
  };
}

function reference(): Contender {
  // Run as plain JS under bare node: a TypeScript loader would add ~30 MB RSS.
  const file = compileToTempModule(REFERENCE_TS, ROOT);
  return {
    spec: {
      name: REFERENCE_NAME,
      command: process.execPath,
      args: [file, '--port', '0'],
      cwd: ROOT,
      readiness: { kind: 'listening-line' },
    },
    path: '/',
  };
}

/** Returns why a SendMessage response is not the expected completed echo task, if it is not. */
function echoProblem(res: EchoResponse, text: string): string | undefined {
  const task = res.result?.task;
  if (!task) return res.error ? 'JSON-RPC error instead of a result' : 'result.task is missing';
  if (task.status?.state !== 'TASK_STATE_COMPLETED') return `status.state is ${String(task.status?.state)}`;
  if (!Array.isArray(task.artifacts) || task.artifacts.length !== 1) {
    return `expected exactly one artifact, got ${Array.isArray(task.artifacts) ? task.artifacts.length : 'none'}`;
  }
  const parts = task.artifacts[0]?.parts;
  if (!Array.isArray(parts) || parts.length !== 1 || parts[0]?.text !== text) {
    return `artifact is not a single text part "${text}"`;
  }
  return undefined;
}

async function verifyEcho(name: string, url: string, body: string, text: string): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'A2A-Version': '1.0' },
    body,
    signal: AbortSignal.timeout(VERIFY_TIMEOUT_MS),
  });
  const raw = await res.text();
  let problem: string | undefined;
  if (res.status !== 200) {
    problem = `HTTP ${res.status}`;
  } else {
    try {
      problem = echoProblem(JSON.parse(raw) as EchoResponse, text);
    } catch {
      problem = 'response is not JSON';
    }
  }
  if (problem) {
    throw new Error(
      `${name}: SendMessage to ${url} did not return the completed echo task (${problem}).\n` +
        `  response: ${raw.slice(0, 2_000)}`,
    );
  }
}

async function benchServer(c: Contender, body: string, text: string, secs: number): Promise<ServerResult> {
  const { name } = c.spec;
  console.log(`\n== ${name}: starting`);
  const server = await startServer(c.spec);
  try {
    const url = `http://127.0.0.1:${server.port}${c.path}`;
    await verifyEcho(name, url, body, text);
    const idleRssMb = readRssMb(server.pid);
    console.log(`   pid ${server.pid}, ${url}, echo semantics OK, idle RSS ${idleRssMb.toFixed(1)} MB`);
    console.log(`   warm-up ${WARMUP_SECONDS}s at ${WARMUP_CONNECTIONS} connections`);
    await runWrk({
      url,
      connections: WARMUP_CONNECTIONS,
      durationSeconds: WARMUP_SECONDS,
      script: LUA_SCRIPT,
    });
    const runs: WrkResult[] = [];
    for (const connections of CONNECTIONS) {
      const run = await runWrk({ url, connections, durationSeconds: secs, script: LUA_SCRIPT });
      console.log(
        `   c=${connections}: ${run.requestsPerSecond.toFixed(0)} req/s, ` +
          `p50 ${run.latencyMs.p50.toFixed(3)} ms, p99 ${run.latencyMs.p99.toFixed(3)} ms`,
      );
      runs.push(run);
    }
    const rssAfterLoadMb = readRssMb(server.pid);
    return {
      server: name,
      command: [c.spec.command, ...c.spec.args].join(' '),
      idleRssMb,
      rssAfterLoadMb,
      runs,
    };
  } finally {
    await server.stop();
  }
}

function runAt(result: ServerResult, connections: number): WrkResult {
  const run = result.runs.find((r) => r.connections === connections);
  if (!run) throw new Error(`${result.server} has no run at ${connections} connections`);
  return run;
}

function evaluateTargets(agent: ServerResult, ref: ServerResult): TargetResult[] {
  const ratio = runAt(agent, 32).requestsPerSecond / runAt(ref, 32).requestsPerSecond;
  const p50 = runAt(agent, 1).latencyMs.p50;
  return [
    {
      id: 'throughput-ratio-c32',
      description: `agentd req/s >= ${TARGET_THROUGHPUT_RATIO}x reference at 32 connections`,
      threshold: TARGET_THROUGHPUT_RATIO,
      actual: ratio,
      pass: ratio >= TARGET_THROUGHPUT_RATIO,
    },
    {
      id: 'p50-ms-c1',
      description: `agentd p50 <= ${TARGET_P50_MS} ms at 1 connection`,
      threshold: TARGET_P50_MS,
      actual: p50,
      pass: p50 <= TARGET_P50_MS,
    },
    {
      id: 'idle-rss-mb',
      description: `agentd idle RSS <= ${TARGET_IDLE_RSS_MB} MB`,
      threshold: TARGET_IDLE_RSS_MB,
      actual: agent.idleRssMb,
      pass: agent.idleRssMb <= TARGET_IDLE_RSS_MB,
    },
  ];
}

function markdown(
  results: ServerResult[],
  ref: ServerResult,
  targets: TargetResult[],
  meta: { date: string; secs: number; cpuModel: string; wrk: string },
): string {
  const lines = [
    '# HTTP JSON-RPC `SendMessage` (echo agent)',
    '',
    `${meta.date} · Node ${process.version} · ${os.cpus().length} × ${meta.cpuModel} · wrk ${meta.wrk} ` +
      `(-t1, ${meta.secs} s per run after a ${WARMUP_SECONDS} s warm-up at ${WARMUP_CONNECTIONS} connections)`,
    '',
    '| server | connections | req/s | p50 ms | p99 ms | × reference req/s | idle RSS MB |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of results) {
    for (const run of r.runs) {
      const ratio = run.requestsPerSecond / runAt(ref, run.connections).requestsPerSecond;
      lines.push(
        `| ${r.server} | ${run.connections} | ${run.requestsPerSecond.toFixed(0)} | ` +
          `${run.latencyMs.p50.toFixed(3)} | ${run.latencyMs.p99.toFixed(3)} | ${ratio.toFixed(2)} | ` +
          `${r.idleRssMb.toFixed(1)} |`,
      );
    }
  }
  lines.push('', '| target | actual | result |', '| --- | ---: | --- |');
  for (const t of targets) {
    lines.push(`| ${t.description} | ${t.actual.toFixed(3)} | ${t.pass ? 'PASS' : '**FAIL**'} |`);
  }
  if (process.env.BENCH_AGENTD_CMD?.trim()) {
    lines.push('', '> The agentd slot was replaced via `BENCH_AGENTD_CMD`: these are not agentd figures.');
  }
  return `${lines.join('\n')}\n`;
}

/** Writes `text` formatted by the project's prettier config (so `format:check` passes); returns it. */
async function writeFormatted(file: string, text: string, parser: 'json' | 'markdown'): Promise<string> {
  const formatted = await format(text, { ...(await resolveConfig(file)), parser });
  writeFileSync(file, formatted);
  return formatted;
}

async function main(): Promise<void> {
  const secs = durationSeconds();
  ensureWrk();
  const { body, text } = requestBody();
  const contenders = [await agentd(), reference()];
  const results: ServerResult[] = [];
  for (const c of contenders) results.push(await benchServer(c, body, text, secs));
  const [agent, ref] = results;
  if (!agent || !ref) throw new Error('missing results');

  const targets = evaluateTargets(agent, ref);
  const date = new Date().toISOString();
  const cpuModel = os.cpus()[0]?.model ?? 'unknown';
  const wrk = wrkVersion();
  const report = {
    benchmark: 'http-jsonrpc',
    date,
    machine: {
      cpus: os.cpus().length,
      cpuModel,
      node: process.version,
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      wrk,
    },
    config: {
      method: 'SendMessage',
      wrkThreads: 1,
      durationSeconds: secs,
      warmup: { seconds: WARMUP_SECONDS, connections: WARMUP_CONNECTIONS },
      connections: CONNECTIONS,
      rssUnit: 'MiB (VmRSS / 1024)',
      script: relative(ROOT, LUA_SCRIPT),
      agentdOverridden: Boolean(process.env.BENCH_AGENTD_CMD?.trim()),
    },
    results,
    targets,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  await writeFormatted(join(RESULTS_DIR, 'http-jsonrpc.json'), JSON.stringify(report), 'json');
  const md = await writeFormatted(
    join(RESULTS_DIR, 'http-jsonrpc.md'),
    markdown(results, ref, targets, { date, secs, cpuModel, wrk }),
    'markdown',
  );

  console.log(`\n${md}`);
  const misses = targets.filter((t) => !t.pass);
  if (misses.length > 0) {
    console.log(`TARGETS MISSED (${misses.length}/${targets.length}):`);
    for (const t of misses) console.log(`  ✗ ${t.description}: actual ${t.actual.toFixed(3)}`);
  } else {
    console.log(`All ${targets.length} targets met.`);
  }
  console.log(`Results written to ${relative(process.cwd(), RESULTS_DIR)}/http-jsonrpc.{json,md}`);
}

// Exit through process.exit so proc.ts's exit hook kills any server still running.
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`\nbench failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
