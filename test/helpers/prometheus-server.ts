/**
 * A real Prometheus for the tests (Debian's `prometheus` package, installed like
 * redis-server when missing and running as root): on a free loopback port, with its
 * config and TSDB in a temp directory, stopped by PID. `query` and `alerts` read its HTTP
 * API; `until` polls a condition against it with a deadline.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ensureDebianTool } from './debian-tool.js';
import { freePort } from './redis-server.js';

/** One sample of an instant vector. */
export interface PromSample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

/** One alert as `GET /api/v1/alerts` lists it. */
export interface PromAlert {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly state: 'pending' | 'firing';
  readonly value: string;
}

export interface PrometheusProcess {
  readonly url: string;
  /** The directory holding its config (rule files may be written there before start). */
  readonly dir: string;
  /** Evaluates an instant query now; throws with Prometheus' error for a bad query. */
  query(promql: string): Promise<PromSample[]>;
  /** The alerts pending or firing now. */
  alerts(): Promise<PromAlert[]>;
  /** Polls `probe` until it returns a value that is not undefined; throws after `timeoutMs`. */
  until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
}

/**
 * Starts Prometheus with `config` (a prometheus.yml object, written as YAML). `files` are
 * written beside the config first (rule files named in it, relative to its directory).
 */
export async function startPrometheus(
  config: (port: number) => Record<string, unknown>,
  files: Record<string, string> = {},
): Promise<PrometheusProcess> {
  ensureDebianTool('prometheus', 'prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'agentd-prometheus-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const port = await freePort();
  writeFileSync(join(dir, 'prometheus.yml'), stringify(config(port)));
  const child = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('prometheus did not start');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;

  const until = async <T>(
    what: string,
    probe: () => Promise<T | undefined>,
    timeoutMs = 15_000,
  ): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}):\n${stderr}`);
      try {
        const value = await probe();
        if (value !== undefined) return value;
      } catch (error) {
        last = error;
      }
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}\n${stderr}`);
      // Between polls: the next scrape/evaluation is at least 100 ms away.
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? res.status}`);
    return body.data;
  };

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (child.exitCode === null) process.kill(pid, 'SIGKILL');
      }, 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await until(
      'prometheus to be ready',
      async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined),
      20_000,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    dir,
    query: async (promql) =>
      (await api<{ result: PromSample[] }>(`/api/v1/query?query=${encodeURIComponent(promql)}`)).result,
    alerts: async () => (await api<{ alerts: PromAlert[] }>('/api/v1/alerts')).alerts,
    until,
    stop,
  };
}
