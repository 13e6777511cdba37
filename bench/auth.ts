/**
 * What authentication costs: JSON-RPC `SendMessage` to the echo agent with authentication
 * off, with an API key (`X-API-Key`), with an HS256 JWT (JWT_SECRET) and with an RS256 JWT
 * verified against a JWKS served on loopback (JWT_JWKS_URL), side by side in one run,
 * servers taking turns round after round. Each client reuses its credential, as real
 * clients do, so a JWT is verified once and then answered from the verified-token cache.
 *
 * Writes bench/results/auth.{json,md}. Environment: BENCH_DURATION (s per run, default 10),
 * BENCH_ROUNDS (default 3).
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startServer } from './lib/proc.js';
import {
  durationSeconds,
  machineInfo,
  positiveIntEnv,
  printOutcome,
  runBenchmark,
  writeFormatted,
  type TargetResult,
} from './lib/report.js';
import { agentdSpec } from './lib/servers.js';
import { ensureWrk, runWrk, wrkScriptBody, wrkVersion, type WrkResult } from './lib/wrk.js';
import { hsToken, ISSUER_AUDIENCE, TestIssuer } from '../test/security/issuer.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const LUA_SCRIPT = join(ROOT, 'bench/lua/jsonrpc-send-auth.lua');
const RESULTS_DIR = join(ROOT, 'bench/results');
const WARMUP_SECONDS = 3;
const CONNECTIONS = [1, 32] as const;
const ROUNDS = positiveIntEnv('BENCH_ROUNDS', 3);
/** Most authentication may cost against none, in req/s at 32 connections. */
const MAX_OVERHEAD = 0.1;
const HS_SECRET = 'bench-secret-bench-secret-bench-secret';
const API_KEY = 'bench-api-key';

interface Mode {
  readonly name: string;
  readonly env: Record<string, string>;
  readonly header?: readonly [string, string];
}

interface ModeResult {
  readonly mode: string;
  readonly runs: Array<WrkResult & { rounds: number[] }>;
}

async function benchMode(mode: Mode, body: string, secs: number): Promise<WrkResult[]> {
  const port = await freePort();
  const server = await startServer(
    agentdSpec({ name: mode.name, root: ROOT, config: 'bench/agentd-bench.yaml', port, env: mode.env }),
  );
  try {
    const url = `http://127.0.0.1:${port}/a2a/echo`;
    const headers: Record<string, string> = { 'content-type': 'application/json', 'a2a-version': '1.0' };
    if (mode.header) headers[mode.header[0]] = mode.header[1];
    const check = await fetch(url, { method: 'POST', headers, body });
    const text = await check.text();
    if (check.status !== 200 || !text.includes('TASK_STATE_COMPLETED'))
      throw new Error(
        `${mode.name}: SendMessage did not complete (HTTP ${check.status}): ${text.slice(0, 300)}`,
      );
    process.env.BENCH_AUTH_HEADER = mode.header?.[0] ?? '';
    process.env.BENCH_AUTH_VALUE = mode.header?.[1] ?? '';
    console.log(`\n== ${mode.name}: warm-up ${WARMUP_SECONDS}s`);
    await runWrk({ url, connections: 32, durationSeconds: WARMUP_SECONDS, script: LUA_SCRIPT });
    const runs: WrkResult[] = [];
    for (const connections of CONNECTIONS) {
      const run = await runWrk({ url, connections, durationSeconds: secs, script: LUA_SCRIPT });
      console.log(
        `   c=${connections}: ${run.requestsPerSecond.toFixed(0)} req/s, p50 ${run.latencyMs.p50.toFixed(3)} ms, p99 ${run.latencyMs.p99.toFixed(3)} ms`,
      );
      runs.push(run);
    }
    return runs;
  } finally {
    await server.stop();
  }
}

/** At each connection count, the round with the median req/s (its latencies with it). */
function median(mode: string, rounds: WrkResult[][]): ModeResult {
  return {
    mode,
    runs: CONNECTIONS.map((c) => {
      const all = rounds.map((r) => r.find((x) => x.connections === c) as WrkResult);
      const sorted = [...all].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond);
      return {
        ...(sorted[Math.floor(sorted.length / 2)] as WrkResult),
        rounds: all.map((r) => r.requestsPerSecond),
      };
    }),
  };
}

const at = (r: ModeResult, c: number): WrkResult => r.runs.find((x) => x.connections === c) as WrkResult;

async function main(): Promise<void> {
  const secs = durationSeconds(10);
  ensureWrk();
  const body = wrkScriptBody(LUA_SCRIPT);
  const issuer = await TestIssuer.start();
  try {
    const modes: Mode[] = [
      { name: 'auth off', env: {} },
      { name: 'API key', env: { API_KEY }, header: ['X-API-Key', API_KEY] },
      {
        name: 'JWT HS256',
        env: { JWT_SECRET: HS_SECRET },
        header: ['Authorization', `Bearer ${await hsToken(HS_SECRET, { sub: 'bench' }, 86_400)}`],
      },
      {
        name: 'JWT RS256 from JWKS',
        env: { JWT_JWKS_URL: issuer.jwksUrl, JWT_AUDIENCE: ISSUER_AUDIENCE, JWT_ISSUER: issuer.url },
        header: ['Authorization', `Bearer ${await issuer.token({ sub: 'bench' }, { expiresIn: 86_400 })}`],
      },
    ];
    const rounds = new Map<string, WrkResult[][]>(modes.map((m) => [m.name, []]));
    for (let round = 1; round <= ROUNDS; round++) {
      console.log(`\n# round ${round} of ${ROUNDS}`);
      for (const mode of modes) rounds.get(mode.name)?.push(await benchMode(mode, body, secs));
    }
    const results = modes.map((m) => median(m.name, rounds.get(m.name) ?? []));
    const off = results[0] as ModeResult;
    const targets: TargetResult[] = results.slice(1).map((r) => {
      const overhead = 1 - at(r, 32).requestsPerSecond / at(off, 32).requestsPerSecond;
      return {
        id: `auth-overhead-${r.mode.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-c32`,
        description: `${r.mode} costs <= ${MAX_OVERHEAD * 100}% of req/s at 32 connections`,
        threshold: MAX_OVERHEAD,
        actual: overhead,
        pass: overhead <= MAX_OVERHEAD,
      };
    });
    const date = new Date().toISOString();
    const wrk = wrkVersion();
    const machine = machineInfo();
    const lines = [
      '# Cost of authentication (echo agent, JSON-RPC `SendMessage`)',
      '',
      `${date} · Node ${machine.node} · ${machine.cpus} × ${machine.cpuModel} · wrk ${wrk} ` +
        `(-t1, ${secs} s per run after a ${WARMUP_SECONDS} s warm-up; ${ROUNDS} rounds, servers taking turns; each client reuses one credential)`,
      '',
      '| authentication | connections | req/s (median round) | req/s of each round | p50 ms | p99 ms | × auth off req/s |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ];
    for (const r of results)
      for (const run of r.runs)
        lines.push(
          `| ${r.mode} | ${run.connections} | ${run.requestsPerSecond.toFixed(0)} | ${run.rounds.map((x) => x.toFixed(0)).join(' / ')} | ` +
            `${run.latencyMs.p50.toFixed(3)} | ${run.latencyMs.p99.toFixed(3)} | ${(run.requestsPerSecond / at(off, run.connections).requestsPerSecond).toFixed(3)} |`,
        );
    lines.push('', '| target | actual | result |', '| --- | ---: | --- |');
    for (const t of targets)
      lines.push(`| ${t.description} | ${(t.actual * 100).toFixed(1)} % | ${t.pass ? 'PASS' : '**FAIL**'} |`);
    mkdirSync(RESULTS_DIR, { recursive: true });
    await writeFormatted(
      join(RESULTS_DIR, 'auth.json'),
      JSON.stringify({
        benchmark: 'auth',
        date,
        machine: { ...machine, wrk },
        config: { durationSeconds: secs, rounds: ROUNDS, connections: CONNECTIONS },
        results,
        targets,
      }),
      'json',
    );
    const md = await writeFormatted(join(RESULTS_DIR, 'auth.md'), `${lines.join('\n')}\n`, 'markdown');
    printOutcome(md, targets, `${relative(process.cwd(), RESULTS_DIR)}/auth.{json,md}`);
  } finally {
    await issuer.close();
  }
}

runBenchmark(main);
