/**
 * `agentd send` goes through the same resilient caller agents use for each other: pooled
 * keep-alive connections, a timeout per attempt (`--timeout`), and retries with exponential
 * backoff and jitter for passing failures only (`--retries`: the agent unreachable,
 * overloaded, draining or slow). A retry resends the same message (same messageId), so an
 * agentd agent runs it once. The credentials (`--api-key`/`--token`) and TLS (`--ca`,
 * `--cert`, `--key`) of the command go to the agent's URL.
 */
import { AgentCaller } from '../engine/agent-caller.js';
import { Outbound } from '../security/outbound.js';
import { credentialsFrom } from '../client/auth.js';
import { InvalidArgumentError } from 'commander';
import { UsageError } from './args.js';
import type { ClientArgs } from './client-options.js';

export interface SendResilience {
  /** Seconds one attempt may take (a stream: until its first event). */
  readonly timeout: number;
  /** Attempts after the first one. */
  readonly retries: number;
}

/** Parses `--timeout` (seconds, > 0). */
export function parseTimeout(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 86_400)
    throw new InvalidArgumentError('--timeout must be seconds, more than 0 and at most 86400');
  return n;
}

/** Parses `--retries` (0 to 10). */
export function parseRetries(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 10)
    throw new InvalidArgumentError('--retries must be an integer from 0 to 10');
  return n;
}

/** The caller for one `send` to `url`; close it when the command ends. */
export async function sendCaller(
  url: string,
  opts: ClientArgs & SendResilience,
  env: NodeJS.ProcessEnv,
): Promise<AgentCaller> {
  if (Boolean(opts.cert) !== Boolean(opts.key)) throw new UsageError('--cert and --key go together');
  const credentials = credentialsFrom(opts, env);
  let outbound: Outbound;
  try {
    outbound = await Outbound.create({
      caFile: opts.ca,
      certFile: opts.cert,
      keyFile: opts.key,
      targets:
        credentials.apiKey || credentials.token
          ? [
              {
                url: new URL(url).origin,
                ...(credentials.apiKey ? { apiKey: credentials.apiKey } : {}),
                ...(credentials.token ? { bearerToken: credentials.token } : {}),
                headers: {},
              },
            ]
          : [],
    });
  } catch (error) {
    throw new UsageError(
      (error as Error).message.replace(
        /^outbound\.(caFile|certFile|keyFile)/,
        (_m, f: string) => ({ caFile: '--ca', certFile: '--cert', keyFile: '--key' })[f] ?? f,
      ),
    );
  }
  return new AgentCaller({
    outbound,
    settings: {
      callTimeoutMs: Math.round(opts.timeout * 1000),
      maxConnectionsPerPeer: 4,
      targets: [],
      retry: { attempts: opts.retries + 1, initialDelayMs: 200, maxDelayMs: 5000 },
      // One command: the breaker never opens within it.
      breaker: { threshold: 1000, halfOpenAfterMs: 10_000 },
    },
  });
}
