import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { configSchema, type AgentdConfig } from './schema.js';

/** Raised for any invalid configuration; the CLI prints it and exits with code 2. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`Invalid configuration (${source}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** A value set from outside the file, and where it came from (for error messages). */
interface Override {
  readonly path: readonly string[];
  readonly value: unknown;
  readonly origin: string;
}

/**
 * Environment variables honoured, by the names the deployment guides use, and the config field each sets.
 * Numbers and booleans are parsed here so a bad value is reported with its variable.
 */
type EnvType = 'int' | 'number' | 'string' | 'bool' | 'level' | 'lower' | 'list' | 'rate';

export const ENV_OVERRIDES: ReadonlyArray<{
  env: string;
  path: string[];
  type: EnvType;
}> = [
  { env: 'HTTP_PORT', path: ['server', 'httpPort'], type: 'int' },
  { env: 'AGENTD_HOST', path: ['server', 'host'], type: 'string' },
  { env: 'AGENTD_PUBLIC_URL', path: ['server', 'publicUrl'], type: 'string' },
  { env: 'AGENTD_REGION', path: ['server', 'region'], type: 'string' },
  { env: 'LOG_LEVEL', path: ['logging', 'level'], type: 'level' },
  { env: 'MAX_CONCURRENT_WORKFLOWS', path: ['execution', 'maxConcurrentWorkflows'], type: 'int' },
  { env: 'AGENTD_MAX_QUEUE_DEPTH', path: ['execution', 'maxQueueDepth'], type: 'int' },
  { env: 'AGENTD_LEASE_SECONDS', path: ['execution', 'leaseSeconds'], type: 'number' },
  { env: 'AGENTD_COMPAT_V03', path: ['server', 'compatV03'], type: 'bool' },
  { env: 'AGENTD_HTTP_HEADERS_TIMEOUT_MS', path: ['server', 'httpHeadersTimeoutMs'], type: 'int' },
  { env: 'AGENTD_HTTP_REQUEST_TIMEOUT_MS', path: ['server', 'httpRequestTimeoutMs'], type: 'int' },
  { env: 'AGENTD_HTTP_KEEPALIVE_TIMEOUT_MS', path: ['server', 'httpKeepAliveTimeoutMs'], type: 'int' },
  { env: 'AGENTD_HTTP_IDLE_TIMEOUT_MS', path: ['server', 'httpIdleTimeoutMs'], type: 'int' },
  { env: 'AGENTD_HTTP_MAX_CONNECTIONS', path: ['server', 'httpMaxConnections'], type: 'int' },
  { env: 'GRPC_PORT', path: ['server', 'grpcPort'], type: 'int' },
  { env: 'AGENTD_STORE', path: ['store', 'kind'], type: 'lower' },
  { env: 'AGENT_HEARTBEAT_INTERVAL', path: ['registry', 'heartbeatSeconds'], type: 'number' },
  { env: 'REDIS_URL', path: ['store', 'redis', 'url'], type: 'string' },
  { env: 'REDIS_HOST', path: ['store', 'redis', 'host'], type: 'string' },
  { env: 'REDIS_PORT', path: ['store', 'redis', 'port'], type: 'int' },
  { env: 'REDIS_PASSWORD', path: ['store', 'redis', 'password'], type: 'string' },
  { env: 'AGENTD_REDIS_KEY_PREFIX', path: ['store', 'redis', 'keyPrefix'], type: 'string' },
  { env: 'REDIS_CLUSTER_NODES', path: ['store', 'redis', 'cluster', 'nodes'], type: 'list' },
  { env: 'REDIS_SENTINELS', path: ['store', 'redis', 'sentinel', 'sentinels'], type: 'list' },
  { env: 'REDIS_SENTINEL_MASTER', path: ['store', 'redis', 'sentinel', 'name'], type: 'string' },
  { env: 'REDIS_SENTINEL_PASSWORD', path: ['store', 'redis', 'sentinel', 'password'], type: 'string' },
  { env: 'AGENTD_REDIS_WAIT_REPLICAS', path: ['store', 'redis', 'waitReplicas'], type: 'int' },
  { env: 'A2A_TRANSPORT', path: ['server', 'transport'], type: 'lower' },
  { env: 'AGENTD_GRPC_PUBLIC_ADDRESS', path: ['server', 'grpcPublicAddress'], type: 'string' },
  { env: 'METRICS_PORT', path: ['prometheus', 'port'], type: 'int' },
  { env: 'OTEL_EXPORTER_OTLP_ENDPOINT', path: ['tracing', 'endpoint'], type: 'string' },
  { env: 'AGENTD_TRACING', path: ['tracing', 'enabled'], type: 'bool' },
  { env: 'MONITORING_ENABLED', path: ['prometheus', 'enabled'], type: 'bool' },
  { env: 'AGENTD_ENVIRONMENT', path: ['prometheus', 'environment'], type: 'string' },
  { env: 'MCP_SERVER_TIMEOUT', path: ['mcp', 'timeoutSeconds'], type: 'number' },
  { env: 'AGENTD_MCP_ENDPOINT', path: ['mcp', 'endpoint'], type: 'bool' },
  { env: 'AGENTD_DEDUPE_MESSAGE_IDS', path: ['execution', 'dedupeMessageIds'], type: 'bool' },
  { env: 'AGENTD_SHUTDOWN_DELAY_MS', path: ['server', 'shutdownDelayMs'], type: 'int' },
  { env: 'AGENTD_SHUTDOWN_DRAIN_MS', path: ['server', 'shutdownDrainMs'], type: 'int' },
  { env: 'AGENTD_API_KEYS_FILE', path: ['auth', 'apiKeysFile'], type: 'string' },
  { env: 'JWT_JWKS_URL', path: ['auth', 'jwt', 'jwksUrl'], type: 'string' },
  { env: 'JWT_ISSUER', path: ['auth', 'jwt', 'issuer'], type: 'string' },
  { env: 'JWT_AUDIENCE', path: ['auth', 'jwt', 'audience'], type: 'string' },
  { env: 'AGENTD_AUTH_REQUIRED', path: ['auth', 'required'], type: 'bool' },
  { env: 'TLS_CERT_FILE', path: ['tls', 'certFile'], type: 'string' },
  { env: 'TLS_KEY_FILE', path: ['tls', 'keyFile'], type: 'string' },
  { env: 'TLS_CLIENT_CA_FILE', path: ['tls', 'clientCaFile'], type: 'string' },
  { env: 'AGENTD_TLS_CLIENT_AUTH', path: ['tls', 'clientAuth'], type: 'lower' },
  { env: 'AGENTD_CARD_SIGNING_KEY_FILE', path: ['cardSigning', 'keyFile'], type: 'string' },
  { env: 'AGENTD_PUSH_ALLOW', path: ['push', 'allow'], type: 'list' },
  { env: 'METRICS_HOST', path: ['prometheus', 'host'], type: 'string' },
  { env: 'AGENTD_MAX_TASKS_PER_PRINCIPAL', path: ['execution', 'maxTasksPerPrincipal'], type: 'int' },
  { env: 'AGENTD_RATE_LIMIT_PER_IP', path: ['rateLimits', 'perIp'], type: 'rate' },
  { env: 'AGENTD_RATE_LIMIT_PER_PRINCIPAL', path: ['rateLimits', 'perPrincipal'], type: 'rate' },
];

/** CLI flags that override both the file and the environment. */
export interface ConfigFlags {
  readonly port?: number | undefined;
  readonly host?: string | undefined;
  readonly logLevel?: string | undefined;
  readonly maxConcurrentWorkflows?: number | undefined;
  readonly publicUrl?: string | undefined;
  readonly transport?: string | undefined;
  readonly grpcPort?: number | undefined;
  readonly store?: string | undefined;
}

export interface LoadedConfig {
  readonly config: AgentdConfig;
  /** The file read (absolute), or `bundled demo`. */
  readonly source: string;
  /** Directory that relative paths in the config (agent modules) resolve against. */
  readonly baseDir: string;
}

/** The demo configuration shipped with the package. */
export const BUNDLED_DEMO_CONFIG = fileURLToPath(new URL('../../config/agentd.demo.yaml', import.meta.url));

/**
 * Loads the configuration: `--config` if given, else `./agentd.yaml` if present, else
 * the bundled demo; then environment variables; then CLI flags. Throws ConfigError naming
 * each offending field and where its value came from.
 */
export function loadConfig(options: {
  configPath?: string | undefined;
  env?: NodeJS.ProcessEnv;
  flags?: ConfigFlags;
  cwd?: string;
}): LoadedConfig {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  let file: string;
  if (options.configPath) {
    file = resolve(cwd, options.configPath);
    if (!existsSync(file)) throw new ConfigError(file, [`config file not found: ${file}`]);
  } else {
    const local = resolve(cwd, 'agentd.yaml');
    file = existsSync(local) ? local : BUNDLED_DEMO_CONFIG;
  }
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8')) ?? {};
  } catch (error) {
    throw new ConfigError(file, [`not valid YAML: ${(error as Error).message.split('\n')[0]}`]);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(file, ['the top level must be a mapping (server:, agents:, ...)']);
  }
  const overrides = [...envOverrides(env), ...flagOverrides(options.flags ?? {})];
  const problems: string[] = [];
  for (const o of overrides) {
    if (o.value instanceof Error) problems.push(`${o.path.join('.')} (from ${o.origin}): ${o.value.message}`);
  }
  if (problems.length > 0) throw new ConfigError(file, problems);
  const merged = structuredClone(raw) as Record<string, unknown>;
  dropEmptySections(merged);
  for (const o of overrides) setPath(merged, o.path, o.value);
  // The standard Kubernetes deployment points at Redis with REDIS_HOST (or REDIS_CLUSTER_NODES,
  // REDIS_SENTINELS) alone: that selects the Redis
  // store unless the file, AGENTD_STORE or --store chose a store explicitly.
  const storeChosen =
    overrides.some((o) => o.path.join('.') === 'store.kind') ||
    (merged.store as Record<string, unknown> | undefined)?.kind !== undefined;
  if (!storeChosen && (env.REDIS_URL || env.REDIS_HOST || env.REDIS_CLUSTER_NODES || env.REDIS_SENTINELS))
    setPath(merged, ['store', 'kind'], 'redis');
  addSecretEnv(merged, env);

  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const origins = new Map(overrides.map((o) => [o.path.join('.'), o.origin]));
    throw new ConfigError(
      file,
      result.error.issues.map((issue) => {
        const path = issue.path.map(String).join('.') || '(top level)';
        const origin = origins.get(path);
        return `${path}${origin ? ` (from ${origin})` : ''}: ${issue.message}`;
      }),
    );
  }
  return { config: result.data, source: file, baseDir: dirname(file) };
}

/**
 * The deployment secrets, by reference so their values never enter the config object: API_KEY
 * adds one API key (principal `api-key`, every scope), JWT_SECRET is the HS256 secret
 * unless the file sets one, METRICS_TOKEN guards `/metrics`.
 */
function addSecretEnv(merged: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  const section = (path: string[]): Record<string, unknown> => {
    let node = merged;
    for (const key of path) {
      const next = node[key];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    return node;
  };
  if (env.API_KEY) {
    const auth = section(['auth']);
    const keys = Array.isArray(auth.apiKeys) ? auth.apiKeys : [];
    auth.apiKeys = [...keys, { key: { env: 'API_KEY' }, principal: 'api-key', scopes: ['*'] }];
  }
  if (env.JWT_SECRET) {
    const jwt = section(['auth', 'jwt']);
    jwt.secret ??= { env: 'JWT_SECRET' };
  }
  if (env.METRICS_TOKEN) {
    const prometheus = section(['prometheus']);
    prometheus.bearerToken ??= { env: 'METRICS_TOKEN' };
  }
}

function envOverrides(env: NodeJS.ProcessEnv): Override[] {
  const out: Override[] = [];
  for (const { env: name, path, type } of ENV_OVERRIDES) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    out.push({ path, value: parseTyped(value, type), origin: `env ${name}` });
  }
  return out;
}

function flagOverrides(flags: ConfigFlags): Override[] {
  const out: Override[] = [];
  const add = (path: string[], value: unknown, origin: string): void => {
    if (value !== undefined) out.push({ path, value, origin });
  };
  add(['server', 'httpPort'], flags.port, '--port');
  add(['server', 'host'], flags.host, '--host');
  add(['server', 'publicUrl'], flags.publicUrl, '--public-url');
  add(['logging', 'level'], flags.logLevel?.toLowerCase(), '--log-level');
  add(['execution', 'maxConcurrentWorkflows'], flags.maxConcurrentWorkflows, '--max-concurrent-workflows');
  add(['server', 'transport'], flags.transport?.toLowerCase(), '--transport');
  add(['server', 'grpcPort'], flags.grpcPort, '--grpc-port');
  add(['store', 'kind'], flags.store?.toLowerCase(), '--store');
  return out;
}

function parseTyped(value: string, type: EnvType): unknown {
  switch (type) {
    case 'int': {
      // Plain decimal only: Number() would read " " as 0, "0x1F" as 31 and "1e3" as 1000.
      const n = /^\s*-?\d+\s*$/.test(value) ? Number(value) : Number.NaN;
      return Number.isInteger(n) ? n : new Error(`"${value}" is not an integer`);
    }
    case 'bool':
      if (/^(true|1|yes|on)$/i.test(value)) return true;
      if (/^(false|0|no|off)$/i.test(value)) return false;
      return new Error(`"${value}" is not a boolean (true/false)`);
    case 'level':
      // The standard ConfigMap says "INFO"; pino levels are lower case.
      return value.toLowerCase();
    case 'lower':
      return value.trim().toLowerCase();
    case 'number': {
      const n = /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : Number.NaN;
      return Number.isFinite(n) ? n : new Error(`"${value}" is not a number`);
    }
    case 'string':
      return value;
    case 'rate': {
      // "rate/burst": sustained requests per second, then the burst (e.g. "50/100").
      const m = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(\d+)\s*$/.exec(value);
      return m
        ? { ratePerSecond: Number(m[1]), burst: Number(m[2]) }
        : new Error(`"${value}" is not "rate/burst" (requests per second, then the burst, e.g. "50/100")`);
    }
    case 'list':
      return value
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean);
  }
}

/**
 * A section whose keys are all commented out (`server:` in the demo config) parses as
 * null; it means "all defaults", so it is dropped. Entries under `agents` are left as
 * written (a module agent's options may hold nulls on purpose).
 */
function dropEmptySections(node: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(node)) {
    if (value === null) delete node[key];
    else if (key !== 'agents' && typeof value === 'object' && !Array.isArray(value)) {
      dropEmptySections(value as Record<string, unknown>);
    }
  }
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}
