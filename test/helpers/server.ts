/**
 * Starts a real agentd server in-process on a free loopback port, with a config built
 * from the given YAML-equivalent object, and stops it after the test.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { configSchema, type AgentdConfig } from '../../src/config/schema.js';
import { AgentdServer } from '../../src/server/agentd-server.js';

export interface TestServer {
  readonly server: AgentdServer;
  /** Base URL, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** Agent base URL with its trailing slash (its JSON-RPC endpoint; the card is below it). */
  agentUrl(name: string): string;
  /** Log lines the server wrote (parsed JSON). */
  readonly logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** The demo agents with fast steps, as most tests want them. */
export const DEMO_AGENTS = [
  { name: 'echo', kind: 'echo', default: true },
  { name: 'countdown', kind: 'countdown', stepMs: 20 },
];

export async function startServer(
  overrides: Record<string, unknown> = {},
  baseDir = process.cwd(),
): Promise<TestServer> {
  const raw = {
    agents: DEMO_AGENTS,
    ...overrides,
    server: { host: '127.0.0.1', httpPort: 0, grpcPort: 0, ...(overrides.server as object | undefined) },
    logging: { level: 'debug', ...(overrides.logging as object | undefined) },
    // Metrics on a free port: servers of parallel test files must not fight over 9090.
    prometheus: { port: 0, ...(overrides.prometheus as object | undefined) },
  };
  const config: AgentdConfig = configSchema.parse(raw);
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const logger = pino({ level: config.logging.level }, sink);
  const server = await AgentdServer.create(config, logger, baseDir);
  const { url } = await server.start();
  return {
    server,
    url,
    logs,
    agentUrl: (name) => `${url}/a2a/${name}/`,
    // No delay before the listeners close: nothing balances load in front of a test server.
    close: () => server.shutdown(1000, 0),
  };
}

/** Resolves when `predicate` holds, polling on the event loop (for counters that settle asynchronously). */
export async function eventually(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}
