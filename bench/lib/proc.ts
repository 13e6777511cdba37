/**
 * Lifecycle of the server processes under test: spawn, readiness, RSS, CPU,
 * stop. Every child is stopped by its own PID; children still alive when the
 * harness exits are SIGKILLed by PID.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** How a spawned server signals that it accepts requests. */
export type Readiness =
  /** Poll `GET http://127.0.0.1:<port>/health` until it answers 200. */
  | { kind: 'health'; port: number }
  /** Wait for a `LISTENING <port>` line on the child's stdout; the port is read from it. */
  | { kind: 'listening-line' }
  /** Wait for a line matching `pattern` on the child's stdout or stderr (e.g. a start-up banner). */
  | { kind: 'output-line'; pattern: RegExp; port: number };

/** What to spawn and how to tell when it is ready. */
export interface ServerSpec {
  name: string;
  command: string;
  args: string[];
  cwd: string;
  readiness: Readiness;
  /** Extra environment variables for the child (it inherits this process's environment). */
  env?: Record<string, string>;
}

/** A running server child process. */
export interface RunningServer {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  /** The output line that signalled readiness (`listening-line` and `output-line`). */
  readonly readyLine: string | undefined;
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

/** Clock ticks per second of the CPU times in /proc (USER_HZ). */
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** Fields of `/proc/<pid>/stat` after the command name, from field 3 (state) on. */
function statFields(pid: number | 'self'): number[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
}

/** User + system CPU seconds of `pid` (fields 14-15), plus those of its reaped children (16-17) if asked. */
function processCpuSeconds(pid: number | 'self', withChildren: boolean): number {
  const f = statFields(pid);
  const ticks = (f[11] ?? 0) + (f[12] ?? 0) + (withChildren ? (f[13] ?? 0) + (f[14] ?? 0) : 0);
  return ticks / CLOCK_TICKS;
}

/** Busy CPU seconds of the whole machine, all cores (`/proc/stat`: user nice system irq softirq steal). */
function machineBusySeconds(): number {
  const cpu = /^cpu\s+(.*)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]?.split(/\s+/).map(Number) ?? [];
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpu;
  return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS;
}

/** Where CPU went during a measurement, in % of one core. */
export interface CpuShares {
  /** The server under test. */
  serverPercent: number;
  /** This process and the children it reaped meanwhile (the load generator: in-process, or wrk). */
  loadGenPercent: number;
  /** Everything else on the machine: noise from other work. */
  otherPercent: number;
  /** Server CPU seconds used. */
  serverSeconds: number;
}

/**
 * Starts metering CPU use by the server `serverPid`, by this process (with
 * the children it reaps, such as a finished wrk) and by the rest of the
 * machine; `stop()` returns the shares since the start. Linux only (/proc);
 * resolution is one clock tick (10 ms), so meter runs of a second or more.
 */
export function startCpuMeter(serverPid: number): { stop(): CpuShares } {
  const start = process.hrtime.bigint();
  const server0 = processCpuSeconds(serverPid, false);
  const self0 = processCpuSeconds('self', true);
  const machine0 = machineBusySeconds();
  return {
    stop: () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const server = processCpuSeconds(serverPid, false) - server0;
      const self = processCpuSeconds('self', true) - self0;
      const other = Math.max(0, machineBusySeconds() - machine0 - server - self);
      const pct = (s: number): number => (100 * s) / seconds;
      return {
        serverPercent: pct(server),
        loadGenPercent: pct(self),
        otherPercent: pct(other),
        serverSeconds: server,
      };
    },
  };
}

/** Options for {@link waitForQuietMachine}. */
export interface QuietOptions {
  /** Give up (and go on) after this long. */
  maxWaitMs: number;
  /** Length of each sample. */
  windowMs: number;
  /** The machine counts as quiet when it is busier than this, in % of one core, in no sample. */
  maxBusyPercent: number;
}

/**
 * Waits, up to `maxWaitMs`, for a sample window in which the whole machine
 * uses at most `maxBusyPercent` of one core: on a shared machine, measuring
 * while other work runs says more about that work than about the server.
 * Call it while nothing of the benchmark's own is busy. Resolves with the
 * seconds waited and whether the machine was quiet.
 */
export async function waitForQuietMachine(
  opts: QuietOptions,
): Promise<{ waitedSeconds: number; quiet: boolean }> {
  const start = Date.now();
  for (;;) {
    const before = machineBusySeconds();
    await sleep(opts.windowMs);
    const busyPercent = (100 * (machineBusySeconds() - before)) / (opts.windowMs / 1000);
    const waitedSeconds = (Date.now() - start) / 1000;
    if (busyPercent <= opts.maxBusyPercent) return { waitedSeconds, quiet: true };
    if (Date.now() - start >= opts.maxWaitMs) return { waitedSeconds, quiet: false };
  }
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

/** Resolves with the first line of the child's output (`output()`, fed by stdout and stderr) matching `pattern`. */
function outputLine(
  child: ChildProcess,
  output: () => string,
  pattern: RegExp,
  deadline: number,
): Promise<string> {
  const line = new RegExp(pattern.source, pattern.flags.includes('m') ? pattern.flags : `${pattern.flags}m`);
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const found = line.exec(output())?.[0];
      if (found !== undefined) finish(() => resolve(found));
    };
    const onExit = (): void =>
      finish(() => reject(new Error(`exited before printing a line matching ${line}`)));
    const timer = setTimeout(
      () => finish(() => reject(new Error(`no line matching ${line} before the start timeout`))),
      deadline - Date.now(),
    );
    const finish = (settle: () => void): void => {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.stderr?.off('data', check);
      child.off('exit', onExit);
      settle();
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
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
  const child = spawn(spec.command, spec.args, {
    cwd: spec.cwd,
    env: spec.env ? { ...process.env, ...spec.env } : process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  // The head of the output is searched for readiness lines, the tail goes into errors.
  let head = '';
  let tail = '';
  const keep = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    if (head.length < OUTPUT_TAIL_CHARS) head += text;
    tail = (tail + text).slice(-OUTPUT_TAIL_CHARS);
  };
  // Registered before outputLine's listeners, so `head` already holds a chunk when they check it.
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });

  const deadline = Date.now() + START_TIMEOUT_MS;
  try {
    await spawned;
    const { readiness } = spec;
    let port: number;
    let readyLine: string | undefined;
    if (readiness.kind === 'health') {
      port = readiness.port;
      await pollHealth(port, child, deadline);
    } else if (readiness.kind === 'output-line') {
      port = readiness.port;
      readyLine = await outputLine(child, () => head, readiness.pattern, deadline);
    } else {
      readyLine = await outputLine(child, () => head, /^LISTENING \d+\s*$/, deadline);
      port = Number(/\d+/.exec(readyLine)?.[0]);
    }
    const pid = child.pid;
    if (pid === undefined) throw new Error('child has no pid');
    return { name: spec.name, pid, port, readyLine, stop: () => stopChild(spec.name, child) };
  } catch (err) {
    await stopChild(spec.name, child);
    const cmd = [spec.command, ...spec.args].join(' ');
    throw new Error(
      `${spec.name} failed to start (${(err as Error).message}).\n  command: ${cmd}\n  output tail:\n${tail}`,
    );
  }
}
