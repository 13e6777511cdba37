/**
 * Lifecycle of the server processes under test: spawn, readiness, RSS, stop.
 * Every child is stopped by its own PID; children still alive when the
 * harness exits are SIGKILLed by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** How a spawned server signals that it accepts requests. */
export type Readiness =
  /** Poll `GET http://127.0.0.1:<port>/health` until it answers 200. */
  | { kind: 'health'; port: number }
  /** Wait for a `LISTENING <port>` line on the child's stdout. */
  | { kind: 'listening-line' };

/** What to spawn and how to tell when it is ready. */
export interface ServerSpec {
  name: string;
  command: string;
  args: string[];
  cwd: string;
  readiness: Readiness;
}

/** A running server child process. */
export interface RunningServer {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  /** Stops the child (SIGTERM, then SIGKILL after a timeout). */
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const HEALTH_POLL_MS = 100;
const OUTPUT_TAIL_CHARS = 8_000;

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) {
    if (child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});

/** Asks the kernel for a currently free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Reads the resident set size (`VmRSS` in `/proc/<pid>/status`) in MiB. */
export function readRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kb) / 1024;
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (hasExited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

async function stopChild(name: string, child: ChildProcess): Promise<void> {
  // A child that failed to spawn has no pid and nothing to stop.
  if (child.pid !== undefined && !hasExited(child)) {
    child.kill('SIGTERM');
    if (!(await waitForExit(child, STOP_TIMEOUT_MS))) {
      console.warn(`${name} (pid ${child.pid}) ignored SIGTERM for ${STOP_TIMEOUT_MS} ms; sending SIGKILL`);
      child.kill('SIGKILL');
      await waitForExit(child, STOP_TIMEOUT_MS);
    }
  }
  live.delete(child);
}

async function pollHealth(port: number, child: ChildProcess, deadline: number): Promise<void> {
  const url = `http://127.0.0.1:${port}/health`;
  while (Date.now() < deadline && !hasExited(child)) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(HEALTH_POLL_MS);
  }
  throw new Error(hasExited(child) ? 'exited before becoming healthy' : `GET ${url} never returned 200`);
}

function listeningLine(child: ChildProcess, stdout: () => string, deadline: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const port = /^LISTENING (\d+)\s*$/m.exec(stdout())?.[1];
      if (port !== undefined) finish(() => resolve(Number(port)));
    };
    const onExit = (): void => finish(() => reject(new Error('exited before printing LISTENING')));
    const timer = setTimeout(
      () => finish(() => reject(new Error('no LISTENING line before the start timeout'))),
      deadline - Date.now(),
    );
    const finish = (settle: () => void): void => {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.off('exit', onExit);
      settle();
    };
    child.stdout?.on('data', check);
    child.once('exit', onExit);
    check();
  });
}

/**
 * Spawns a server and resolves once it is ready (see {@link Readiness}).
 * The child's output is drained continuously (so it never blocks on a full
 * pipe) and its tail is included in the error if the start fails or times
 * out, in which case the child is stopped.
 */
export async function startServer(spec: ServerSpec): Promise<RunningServer> {
  const child = spawn(spec.command, spec.args, { cwd: spec.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let stdout = '';
  let tail = '';
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    if (stdout.length < OUTPUT_TAIL_CHARS) stdout += chunk.toString('utf8');
    keep(chunk);
  });
  child.stderr?.on('data', keep);
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });

  const deadline = Date.now() + START_TIMEOUT_MS;
  try {
    await spawned;
    let port: number;
    if (spec.readiness.kind === 'health') {
      port = spec.readiness.port;
      await pollHealth(port, child, deadline);
    } else {
      port = await listeningLine(child, () => stdout, deadline);
    }
    const pid = child.pid;
    if (pid === undefined) throw new Error('child has no pid');
    return { name: spec.name, pid, port, stop: () => stopChild(spec.name, child) };
  } catch (err) {
    await stopChild(spec.name, child);
    const cmd = [spec.command, ...spec.args].join(' ');
    throw new Error(
      `${spec.name} failed to start (${(err as Error).message}).\n  command: ${cmd}\n  output tail:\n${tail}`,
    );
  }
}
