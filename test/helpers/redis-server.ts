/**
 * A real `redis-server` for the tests, on a free loopback port, in its own temp
 * directory, stopped by PID. When `redis-server` is missing it is installed from Debian
 * (`apt-get install -y redis-server`) if we run as root; otherwise the test run fails
 * with the command to run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDebianTool } from './debian-tool.js';

export interface RedisProcess {
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  /** Stops this redis-server (SIGTERM, then SIGKILL) and removes its directory unless the caller gave it. */
  stop(): Promise<void>;
}

/** Makes sure `redis-server` can be run, installing Debian's package as root if needed. */
export function ensureRedisServer(): void {
  ensureDebianTool('redis-server', 'redis-server');
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Starts a redis-server with no persistence (or AOF when asked) and waits until it accepts connections. */
export async function startRedis(
  options: {
    appendonly?: boolean;
    port?: number;
    dir?: string;
    /** More redis-server arguments (e.g. `--cluster-enabled yes`, `--replicaof host port`). */
    args?: readonly string[];
    /** The program: `redis-server` unless given (`redis-sentinel`). */
    command?: string;
    /** A config file, passed first (a Sentinel rewrites its own). */
    configFile?: string;
    /** The log line that says it serves (default: redis-server's `Ready to accept connections`). */
    readyLine?: string;
  } = {},
): Promise<RedisProcess> {
  ensureRedisServer();
  const port = options.port ?? (await freePort());
  // A caller-owned directory survives stop(), so a restarted server reloads its AOF.
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'agentd-redis-'));
  const command = options.command ?? 'redis-server';
  const child: ChildProcess = spawn(
    command,
    [
      ...(options.configFile ? [options.configFile] : []),
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      options.appendonly ? 'yes' : 'no',
      '--daemonize',
      'no',
      '--loglevel',
      'notice',
      ...(options.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error('redis-server did not start');
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} did not get ready:\n${output}`));
    }, 10_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes(options.readyLine ?? 'Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited with ${code}:\n${output}`));
    });
  });
  // Keep draining its output so a chatty server never blocks on a full pipe.
  child.stdout?.resume();
  child.stderr?.resume();
  return {
    port,
    pid,
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        // A test may have killed it by PID already (a failover): its exit is then still to be seen.
        const signal = (s: NodeJS.Signals): void => {
          try {
            process.kill(pid, s);
          } catch {
            // already gone
          }
        };
        signal('SIGTERM');
        const timer = setTimeout(() => {
          if (child.exitCode === null && child.signalCode === null) signal('SIGKILL');
        }, 5000);
        await exited;
        clearTimeout(timer);
      }
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
