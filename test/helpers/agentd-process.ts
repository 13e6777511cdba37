/**
 * The built CLI (`bin/agentd.js`) as a real child process, for tests that need what only
 * a process has: signals, exit codes, kill -9. Every process started here is tracked;
 * `stopStarted()` kills those still running, by PID. Needs `npm run build` first
 * (`npm test` does it).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/agentd.js');

/** Environment variables that would override the config file; the child must not inherit them. */
const OVERRIDE_ENV = [
  'HTTP_PORT',
  'GRPC_PORT',
  'AGENTD_HOST',
  'AGENTD_PUBLIC_URL',
  'LOG_LEVEL',
  'MAX_CONCURRENT_WORKFLOWS',
  'AGENTD_COMPAT_V03',
  'AGENTD_STORE',
  'REDIS_URL',
  'REDIS_HOST',
  'REDIS_PORT',
  'REDIS_PASSWORD',
  'REDIS_CLUSTER_NODES',
  'REDIS_SENTINELS',
  'REDIS_SENTINEL_MASTER',
  'REDIS_SENTINEL_PASSWORD',
  'AGENTD_REDIS_WAIT_REPLICAS',
  'AGENTD_SHUTDOWN_DELAY_MS',
  'AGENTD_SHUTDOWN_DRAIN_MS',
];

export interface Agentd {
  readonly child: ChildProcessWithoutNullStreams;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** The JSON log lines written to stdout so far. */
  logs(): ReadonlyArray<Record<string, unknown>>;
  /** Resolves with the base URL from the startup banner. */
  readonly url: Promise<string>;
  /** Resolves when a JSON log line on stdout matches (lines already written included). */
  waitForLog(predicate: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** Resolves when the process exits, with the time it did. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

const started: ChildProcessWithoutNullStreams[] = [];
let dir: string | undefined;

function workDir(): string {
  if (!existsSync(join(ROOT, 'dist/cli/bin.js')))
    throw new Error('dist/ is missing: run `npm run build` before these tests');
  dir ??= mkdtempSync(join(tmpdir(), 'agentd-proc-'));
  return dir;
}

/** Writes a config file (YAML; JSON is YAML too) into the working directory and returns its path. */
export function writeConfig(name: string, yaml: string): string {
  const file = join(workDir(), name);
  writeFileSync(file, yaml);
  return file;
}

/** Kills (SIGKILL, by PID) the processes started here that still run. */
export function stopStarted(): void {
  for (const child of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined)
      process.kill(child.pid, 'SIGKILL');
  }
}

/** Removes the working directory (after `stopStarted`). */
export function removeWorkDir(): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
}

export function spawnAgentd(args: string[], extraEnv: Record<string, string> = {}): Agentd {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of OVERRIDE_ENV) delete env[k];
  // No load balancer in front of a test process: SIGTERM drains without the endpoint-removal delay.
  env.AGENTD_SHUTDOWN_DELAY_MS = '0';
  Object.assign(env, extraEnv);
  const child = spawn(process.execPath, [BIN, ...args], { cwd: workDir(), env, stdio: 'pipe' });
  started.push(child);
  let stderr = '';
  let stdout = '';
  const logs: Array<Record<string, unknown>> = [];
  const logWaiters: Array<{
    predicate: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
    reject: (e: Error) => void;
  }> = [];
  let closed = false;
  child.on('close', () => {
    closed = true;
  });
  let urlResolve: (u: string) => void = () => undefined;
  let urlReject: (e: Error) => void = () => undefined;
  const url = new Promise<string>((res, rej) => {
    urlResolve = res;
    urlReject = rej;
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
    const m = /^\s+HTTP\s+(http:\/\/\S+)/m.exec(stderr);
    if (m?.[1]) urlResolve(m[1]);
  });
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
    let nl: number;
    while ((nl = stdout.indexOf('\n')) >= 0) {
      const line = stdout.slice(0, nl);
      stdout = stdout.slice(nl + 1);
      if (!line.trim()) continue;
      const parsed = JSON.parse(line) as Record<string, unknown>;
      logs.push(parsed);
      for (const w of [...logWaiters]) {
        if (w.predicate(parsed)) {
          logWaiters.splice(logWaiters.indexOf(w), 1);
          w.resolve(parsed);
        }
      }
    }
  });
  url.catch(() => undefined); // handled by whoever awaits it
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((res) => {
    child.on('exit', (code, signal) => {
      urlReject(new Error(`agentd exited (code ${code}) before listening:\n${stderr}`));
      res({ code, signal, at: Date.now() });
    });
  });
  // stdout may still deliver lines after 'exit'; 'close' means it is drained.
  child.on('close', () => {
    for (const w of logWaiters.splice(0))
      w.reject(new Error(`agentd exited without logging the expected line:\n${JSON.stringify(logs)}`));
  });
  return {
    child,
    stderr: () => stderr,
    logs: () => logs,
    url,
    exited,
    waitForLog: (predicate) => {
      const found = logs.find(predicate);
      if (found) return Promise.resolve(found);
      if (closed)
        return Promise.reject(
          new Error(`agentd exited without logging the expected line:\n${JSON.stringify(logs)}`),
        );
      return new Promise((res, rej) => logWaiters.push({ predicate, resolve: res, reject: rej }));
    },
  };
}
