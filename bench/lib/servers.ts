/**
 * How the benchmarks start the servers they compare: agentd from the built
 * CLI, and the SDK reference servers compiled to plain JavaScript.
 */
import { compileToTempModule } from './compile.js';
import type { ServerSpec } from './proc.js';

/** Options for {@link agentdSpec}. */
export interface AgentdSpecOptions {
  /** Name used in logs and results. */
  name: string;
  /** The project root (where `bin/agentd.js` is). */
  root: string;
  /** YAML config file. */
  config: string;
  /** HTTP port. */
  port: number;
  /**
   * The line of the CLI's start-up banner (stderr) that means agentd is ready;
   * default its first line. The banner is printed once `serve` has bound every
   * listener and published the agent cards (when `/ready` turns 200); the
   * liveness probe `/health` answers as soon as HTTP listens.
   */
  readyLine?: RegExp;
  /** More `serve` arguments (e.g. `--transport both --grpc-port N`). */
  args?: string[];
  /** Arguments for node itself (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
  /** Extra environment (e.g. `REDIS_URL`). */
  env?: Record<string, string>;
}

/** The first line of agentd's start-up banner. */
export const AGENTD_BANNER = /^agentd \S+ listening on /;

/** `node bin/agentd.js serve --config ... --port ... --host 127.0.0.1 --log-level warn ...`, ready on its banner. */
export function agentdSpec(opts: AgentdSpecOptions): ServerSpec {
  return {
    name: opts.name,
    command: process.execPath,
    args: [
      ...(opts.nodeArgs ?? []),
      'bin/agentd.js',
      'serve',
      '--config',
      opts.config,
      '--port',
      String(opts.port),
      '--host',
      '127.0.0.1',
      '--log-level',
      'warn',
      ...(opts.args ?? []),
    ],
    cwd: opts.root,
    readiness: { kind: 'output-line', pattern: opts.readyLine ?? AGENTD_BANNER, port: opts.port },
    ...(opts.env ? { env: opts.env } : {}),
  };
}

/**
 * A reference server (bench/reference/*.ts) run as plain JavaScript under
 * bare node (a TypeScript loader would add ~30 MB RSS) with `--port 0` and
 * `args`; it reports its port with a `LISTENING <port>` line.
 */
export function referenceSpec(name: string, root: string, tsFile: string, args: string[] = []): ServerSpec {
  return {
    name,
    command: process.execPath,
    args: [compileToTempModule(tsFile, root), '--port', '0', ...args],
    cwd: root,
    readiness: { kind: 'listening-line' },
  };
}
