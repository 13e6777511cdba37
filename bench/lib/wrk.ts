/**
 * wrk discovery/installation, a runner that parses wrk's text report, and the
 * request body of a wrk script (bench/lua/*-send.lua).
 */
import { execFile, spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Extra time granted to wrk beyond its `-d` before it is killed. */
const WRK_GRACE_MS = 30_000;
/** Upper bound for each apt-get step. */
const APT_TIMEOUT_MS = 10 * 60_000;

/** Latency percentiles reported by `wrk --latency`, in milliseconds. */
export interface WrkLatencyMs {
  p50: number;
  p75: number;
  p90: number;
  p99: number;
}

/** Parsed outcome of one wrk run. */
export interface WrkResult {
  connections: number;
  durationSeconds: number;
  requests: number;
  requestsPerSecond: number;
  latencyMs: WrkLatencyMs;
}

/** Options for {@link runWrk}. */
export interface WrkOptions {
  url: string;
  connections: number;
  durationSeconds: number;
  /** Path of the wrk Lua script shaping the request. */
  script: string;
}

function isOnPath(command: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

function aptGet(args: string[]): void {
  const res = spawnSync('apt-get', args, {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    timeout: APT_TIMEOUT_MS,
  });
  if (res.error) throw new Error(`apt-get ${args.join(' ')} failed: ${res.error.message}`);
  if (res.status !== 0) throw new Error(`apt-get ${args.join(' ')} exited with status ${res.status}`);
}

/**
 * Makes sure `command` is on PATH. When it is missing and the process runs as
 * root, installs `debianPackage` with `apt-get update` and `apt-get install -y`;
 * otherwise throws an error explaining how to install it.
 */
export function ensureTool(command: string, debianPackage: string): void {
  if (isOnPath(command)) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `${command} is not installed and this process is not root, so it cannot install it.\n` +
        `  Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y ${debianPackage}\n` +
        'then re-run the benchmark.',
    );
  }
  console.log(
    `${command} not found on PATH; installing the Debian package ${debianPackage} (running as root)...`,
  );
  aptGet(['update']);
  aptGet(['install', '-y', debianPackage]);
  if (!isOnPath(command)) throw new Error(`apt-get reported success but ${command} is still not on PATH`);
}

/** Makes sure `wrk` is on PATH (see {@link ensureTool}). */
export function ensureWrk(): void {
  ensureTool('wrk', 'wrk');
}

/** Returns wrk's version string (e.g. `4.1.0`), or `unknown`. */
export function wrkVersion(): string {
  // `wrk -v` prints its banner and exits with status 1.
  const res = spawnSync('wrk', ['-v'], { encoding: 'utf8', timeout: 5_000 });
  return /^wrk\s+(\S+)/m.exec(`${res.stdout ?? ''}${res.stderr ?? ''}`)?.[1] ?? 'unknown';
}

const UNIT_TO_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

function toMs(value: string, unit: string): number {
  const factor = UNIT_TO_MS[unit];
  if (factor === undefined) throw new Error(`unknown wrk time unit "${unit}"`);
  return Number(value) * factor;
}

function percentile(report: string, pct: number): number {
  const m = new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm').exec(report);
  if (!m?.[1] || !m[2]) throw new Error(`wrk report has no ${pct}% latency line`);
  return toMs(m[1], m[2]);
}

/**
 * Parses the text report of `wrk --latency`. Throws if the report shows any
 * socket error, any non-2xx/3xx response, any response the Lua script flagged
 * as unexpected (`Unexpected responses: N`, printed by its `done` hook), or no
 * completed request.
 */
function parseWrkReport(report: string, connections: number, durationSeconds: number): WrkResult {
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(report);
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(report)?.[1] ?? 0);
  const unexpected = /^Unexpected responses: (\d+)$/m.exec(report)?.[1];
  if (unexpected === undefined) {
    throw new Error(`wrk report lacks the Lua script's "Unexpected responses" line:\n${report}`);
  }
  if (socketErrors > 0 || non2xx > 0 || Number(unexpected) > 0) {
    throw new Error(
      `wrk saw errors (socket errors: ${socketErrors}, non-2xx/3xx responses: ${non2xx}, ` +
        `responses that are not a completed task: ${unexpected}):\n${report}`,
    );
  }
  const requests = Number(/^\s*(\d+) requests in /m.exec(report)?.[1] ?? NaN);
  const requestsPerSecond = Number(/^Requests\/sec:\s+([\d.]+)/m.exec(report)?.[1] ?? NaN);
  if (!(requests > 0) || !(requestsPerSecond > 0)) {
    throw new Error(`wrk completed no requests or its report could not be parsed:\n${report}`);
  }
  return {
    connections,
    durationSeconds,
    requests,
    requestsPerSecond,
    latencyMs: {
      p50: percentile(report, 50),
      p75: percentile(report, 75),
      p90: percentile(report, 90),
      p99: percentile(report, 99),
    },
  };
}

/**
 * Runs `wrk -t1 -c<connections> -d<secs>s --latency -s <script> <url>` and
 * returns the parsed report. Rejects (with wrk's output) if wrk fails,
 * writes to stderr, overruns its duration by {@link WRK_GRACE_MS}, or
 * reports errors.
 */
export async function runWrk(opts: WrkOptions): Promise<WrkResult> {
  const args = [
    '-t1',
    `-c${opts.connections}`,
    `-d${opts.durationSeconds}s`,
    '--latency',
    '-s',
    opts.script,
    opts.url,
  ];
  let stdout: string;
  let stderr: string;
  try {
    ({ stdout, stderr } = await execFileAsync('wrk', args, {
      encoding: 'utf8',
      timeout: opts.durationSeconds * 1_000 + WRK_GRACE_MS,
      killSignal: 'SIGKILL',
    }));
  } catch (err) {
    const e = err as { message: string; stdout?: string; stderr?: string };
    throw new Error(`wrk ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
  // wrk exits 0 even when it cannot load its script (it then sends plain GETs).
  if (stderr.trim() !== '') throw new Error(`wrk ${args.join(' ')} wrote to stderr:\n${stderr}${stdout}`);
  return parseWrkReport(stdout, opts.connections, opts.durationSeconds);
}

/**
 * The request body a wrk script sends: its single-quoted `wrk.body = '...'`
 * literal, so a harness can send the identical bytes when it verifies a
 * server. Throws if the script has no such line.
 */
export function wrkScriptBody(script: string): string {
  const body = /^wrk\.body\s*=\s*'([^']*)'\s*$/m.exec(readFileSync(script, 'utf8'))?.[1];
  if (body === undefined) throw new Error(`no single-quoted wrk.body in ${script}`);
  return body;
}
