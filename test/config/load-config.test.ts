import { redisAddress, redisUrl } from '../../src/store/create-store.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BUNDLED_DEMO_CONFIG,
  ConfigError,
  loadConfig,
  type ConfigFlags,
} from '../../src/config/load-config.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'agentd-config-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const MINIMAL = 'agents:\n  - name: echo\n    kind: echo\n';

function write(name: string, yaml: string): string {
  const file = join(dir, name);
  writeFileSync(file, yaml);
  return file;
}

/** Loads `yaml` with an explicit (never the process') environment. */
function load(
  yaml: string,
  env: NodeJS.ProcessEnv = {},
  flags: ConfigFlags = {},
): ReturnType<typeof loadConfig> {
  return loadConfig({ configPath: write('agentd.yaml', yaml), env, flags, cwd: dir });
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems.length).toBeGreaterThan(0);
    // The message lists every problem, for the CLI to print as is.
    for (const p of problems) expect((error as ConfigError).message).toContain(p);
    return problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig defaults', () => {
  it('fills every default around a file that only lists agents', () => {
    const { config, source, baseDir } = load(MINIMAL);
    expect(source).toBe(join(dir, 'agentd.yaml'));
    expect(baseDir).toBe(dir);
    expect(config.server).toEqual({
      host: '0.0.0.0',
      httpPort: 8080,
      bodyLimitBytes: 10 * 1024 * 1024,
      sseKeepAliveMs: 15_000,
      httpHeadersTimeoutMs: 10_000,
      httpRequestTimeoutMs: 30_000,
      httpKeepAliveTimeoutMs: 65_000,
      httpIdleTimeoutMs: 300_000,
      httpMaxConnections: 10_000,
      shutdownDrainMs: 10_000,
      shutdownDelayMs: 5000,
      compatV03: true,
      transport: 'both',
      grpcPort: 8081,
      grpcMaxMessageBytes: 10 * 1024 * 1024,
      grpcKeepaliveMs: 30_000,
    });
    expect(config.server.publicUrl).toBeUndefined();
    expect(config.execution).toEqual({
      maxConcurrentWorkflows: 50,
      maxQueueDepth: 1000,
      cancelGraceMs: 2000,
      leaseSeconds: 25,
      maxAttempts: 3,
      dedupeMessageIds: true,
      maxTasksPerPrincipal: 0,
    });
    expect(config.store).toEqual({
      kind: 'memory',
      redis: {
        host: 'localhost',
        port: 6379,
        db: 0,
        tls: false,
        keyPrefix: 'agentd:',
        sharedStreamReader: true,
        waitReplicas: 0,
        waitTimeoutMs: 500,
      },
      retention: {
        ttlSeconds: 3600,
        maxTerminalTasks: 10_000,
        maxTerminalBytes: 256 * 1024 * 1024,
        closedStreamSeconds: 30,
      },
      maxEventsPerTask: 10_000,
    });
    expect(config.push).toEqual({
      maxAttempts: 3,
      baseDelayMs: 500,
      timeoutMs: 5000,
      maxPendingPerTarget: 1000,
      allow: [],
      maxResponseBytes: 65_536,
      signDeliveries: true,
    });
    expect(config.logging).toEqual({ level: 'info' });
    expect(config.agents).toEqual([
      {
        name: 'echo',
        kind: 'echo',
        description: '',
        version: '1.0.0',
        default: false,
        streaming: true,
        pushNotifications: true,
        scopes: [],
      },
    ]);
  });

  it('defaults countdown step and limit', () => {
    const { config } = load('agents:\n  - { name: c, kind: countdown }\n');
    expect(config.agents[0]).toMatchObject({ kind: 'countdown', stepMs: 300, maxCount: 1000 });
  });

  it('without --config uses ./agentd.yaml when present', () => {
    write('agentd.yaml', 'server: { httpPort: 9191 }\n' + MINIMAL);
    const { config, source } = loadConfig({ env: {}, cwd: dir });
    expect(source).toBe(join(dir, 'agentd.yaml'));
    expect(config.server.httpPort).toBe(9191);
  });

  it('without --config and without ./agentd.yaml uses the bundled demo', () => {
    const { source, config } = loadConfig({ env: {}, cwd: dir });
    expect(source).toBe(BUNDLED_DEMO_CONFIG);
    expect(config.agents.map((a) => a.name)).toEqual([
      'echo',
      'countdown',
      'tools',
      'assistant',
      'research',
      'router',
    ]);
  });

  it('resolves a relative --config against cwd, and relative paths in it against its directory', () => {
    mkdirSync(join(dir, 'conf'));
    writeFileSync(join(dir, 'conf', 'x.yaml'), MINIMAL);
    const { source, baseDir } = loadConfig({ configPath: 'conf/x.yaml', env: {}, cwd: dir });
    expect(source).toBe(join(dir, 'conf', 'x.yaml'));
    expect(baseDir).toBe(join(dir, 'conf'));
  });
});

describe('the bundled demo config', () => {
  it('is valid and serves echo (default), countdown, the demo MCP tools, an llm agent, a workflow and a router', () => {
    const { config, source } = loadConfig({ configPath: BUNDLED_DEMO_CONFIG, env: {} });
    expect(source).toBe(BUNDLED_DEMO_CONFIG);
    expect(config.server.httpPort).toBe(8080);
    expect(config.execution.maxConcurrentWorkflows).toBe(50);
    expect(config.execution.maxQueueDepth).toBe(1000);
    expect(config.store.retention).toEqual({
      ttlSeconds: 3600,
      maxTerminalTasks: 10_000,
      maxTerminalBytes: 256 * 1024 * 1024,
      closedStreamSeconds: 30,
    });
    expect(config.agents).toHaveLength(6);
    expect(config.agents[4]).toMatchObject({ name: 'research', kind: 'workflow' });
    expect(config.agents[5]).toMatchObject({ name: 'router', kind: 'router', fallback: 'echo' });
    expect(config.agents[0]).toMatchObject({ name: 'echo', kind: 'echo', default: true });
    expect(config.agents[0]?.skills?.[0]).toMatchObject({ id: 'echo', name: 'Echo', examples: ['hello'] });
    expect(config.agents[1]).toMatchObject({
      name: 'countdown',
      kind: 'countdown',
      stepMs: 300,
      default: false,
    });
    expect(config.mcp.timeoutSeconds).toBe(300);
    expect(config.mcp.servers).toEqual([
      expect.objectContaining({
        name: 'demo',
        transport: 'stdio',
        command: 'node',
        args: ['bin/agentd.js', 'mcp-demo-server'],
        cwd: '..',
        required: true,
      }),
    ]);
    expect(config.agents[2]).toMatchObject({ name: 'tools', kind: 'tools', servers: ['demo'] });
    expect(config.agents[3]).toMatchObject({
      name: 'assistant',
      kind: 'llm',
      apiKey: { env: 'OPENAI_API_KEY' },
      servers: ['demo'],
    });
  });
});

describe('the bundled demo config and the state store', () => {
  it('is the embedded memory store without Redis variables', () => {
    expect(loadConfig({ configPath: BUNDLED_DEMO_CONFIG, env: {} }).config.store.kind).toBe('memory');
  });

  it('REDIS_URL or REDIS_HOST alone selects Redis, as the distributed-mode docs say', () => {
    const byUrl = loadConfig({
      configPath: BUNDLED_DEMO_CONFIG,
      env: { REDIS_URL: 'redis://localhost:6379' },
    });
    expect(byUrl.config.store.kind).toBe('redis');
    expect(redisAddress(byUrl.config.store.redis)).toBe('redis://localhost:6379');
    const byHost = loadConfig({ configPath: BUNDLED_DEMO_CONFIG, env: { REDIS_HOST: 'redis-service' } });
    expect(byHost.config.store.kind).toBe('redis');
    expect(byHost.config.store.retention.maxTerminalTasks).toBe(10_000);
  });
});

describe('YAML values', () => {
  it('are read and typed', () => {
    const { config } = load(`
server:
  host: 127.0.0.1
  httpPort: 9000
  publicUrl: https://agents.example.com
  compatV03: false
store:
  retention: { ttlSeconds: 60, maxTerminalTasks: 5, closedStreamSeconds: 2 }
  maxEventsPerTask: 50
execution: { maxConcurrentWorkflows: 4, maxQueueDepth: 0, cancelGraceMs: 10, leaseSeconds: 3, maxAttempts: 5 }
push: { maxAttempts: 5 }
logging: { level: debug }
agents:
  - name: echo
    kind: echo
    default: true
    skills: [{ id: s, name: S, tags: [a] }]
  - { name: count_2, kind: countdown, stepMs: 5, maxCount: 20, streaming: false }
  - { name: mod, kind: module, module: ./agent.js, export: Agent, options: { x: 1 } }
`);
    expect(config.server).toMatchObject({
      host: '127.0.0.1',
      httpPort: 9000,
      publicUrl: 'https://agents.example.com',
      compatV03: false,
    });
    expect(config.store).toEqual({
      kind: 'memory',
      redis: {
        host: 'localhost',
        port: 6379,
        db: 0,
        tls: false,
        keyPrefix: 'agentd:',
        sharedStreamReader: true,
        waitReplicas: 0,
        waitTimeoutMs: 500,
      },
      retention: {
        ttlSeconds: 60,
        maxTerminalTasks: 5,
        maxTerminalBytes: 256 * 1024 * 1024,
        closedStreamSeconds: 2,
      },
      maxEventsPerTask: 50,
    });
    expect(config.execution).toEqual({
      maxConcurrentWorkflows: 4,
      maxQueueDepth: 0,
      cancelGraceMs: 10,
      leaseSeconds: 3,
      maxAttempts: 5,
      dedupeMessageIds: true,
      maxTasksPerPrincipal: 0,
    });
    expect(config.push.maxAttempts).toBe(5);
    expect(config.push.timeoutMs).toBe(5000);
    expect(config.logging.level).toBe('debug');
    expect(config.agents[0]).toMatchObject({
      default: true,
      skills: [{ id: 's', name: 'S', description: '', tags: ['a'], examples: [] }],
    });
    expect(config.agents[1]).toMatchObject({ kind: 'countdown', stepMs: 5, maxCount: 20, streaming: false });
    expect(config.agents[2]).toMatchObject({
      kind: 'module',
      module: './agent.js',
      export: 'Agent',
      options: { x: 1 },
    });
  });
});

describe('empty sections', () => {
  it('a section whose keys are all commented out means all defaults', () => {
    const { config } = load(`
server:
  # httpPort: 9000
store:
  retention:
    # ttlSeconds: 5
execution:
${MINIMAL}`);
    expect(config.server.httpPort).toBe(8080);
    expect(config.store.retention).toEqual({
      ttlSeconds: 3600,
      maxTerminalTasks: 10_000,
      maxTerminalBytes: 256 * 1024 * 1024,
      closedStreamSeconds: 30,
    });
    expect(config.execution.maxConcurrentWorkflows).toBe(50);
  });

  it('an env override still lands in an empty section', () => {
    expect(load('server:\n' + MINIMAL, { HTTP_PORT: '7000' }).config.server).toMatchObject({
      httpPort: 7000,
      host: '0.0.0.0',
    });
  });

  it('null values inside a module agent options are passed through', () => {
    const { config } = load(
      'agents:\n  - { name: m, kind: module, module: ./m.js, options: { keep: null } }\n',
    );
    expect(config.agents[0]).toMatchObject({ options: { keep: null } });
  });

  it('an empty agents key is still an error', () => {
    expect(problemsOf(() => load('agents:\n'))).toEqual([expect.stringMatching(/^agents: /)]);
  });
});

describe('environment overrides', () => {
  it('apply the standard env names over the file', () => {
    const { config } = load(
      'server: { httpPort: 9000, host: 10.0.0.1 }\nexecution: { maxConcurrentWorkflows: 4 }\nlogging: { level: warn }\n' +
        MINIMAL,
      {
        HTTP_PORT: '7070',
        LOG_LEVEL: 'INFO',
        MAX_CONCURRENT_WORKFLOWS: '12',
        AGENTD_HOST: '127.0.0.1',
        AGENTD_PUBLIC_URL: 'https://a.example.com',
        AGENTD_COMPAT_V03: 'false',
      },
    );
    expect(config.server.httpPort).toBe(7070);
    expect(config.server.host).toBe('127.0.0.1');
    expect(config.server.publicUrl).toBe('https://a.example.com');
    expect(config.server.compatV03).toBe(false);
    expect(config.logging.level).toBe('info');
    expect(config.execution.maxConcurrentWorkflows).toBe(12);
  });

  it('AGENTD_HTTP_* set the HTTP timeouts and connection cap; headers may not outlast the request', () => {
    const { config } = load(MINIMAL, {
      AGENTD_HTTP_HEADERS_TIMEOUT_MS: '2000',
      AGENTD_HTTP_REQUEST_TIMEOUT_MS: '5000',
      AGENTD_HTTP_KEEPALIVE_TIMEOUT_MS: '7000',
      AGENTD_HTTP_IDLE_TIMEOUT_MS: '0',
      AGENTD_HTTP_MAX_CONNECTIONS: '50',
    });
    expect(config.server).toMatchObject({
      httpHeadersTimeoutMs: 2000,
      httpRequestTimeoutMs: 5000,
      httpKeepAliveTimeoutMs: 7000,
      httpIdleTimeoutMs: 0,
      httpMaxConnections: 50,
    });
    const problems = problemsOf(() => load(MINIMAL, { AGENTD_HTTP_HEADERS_TIMEOUT_MS: '40000' }));
    expect(problems.join('\n')).toContain('server.httpHeadersTimeoutMs');
  });

  it('METRICS_PORT, MONITORING_ENABLED and AGENTD_ENVIRONMENT set the Prometheus listener', () => {
    expect(load(MINIMAL).config.prometheus).toEqual({ enabled: true, port: 9090, environment: 'production' });
    expect(
      load(MINIMAL, { METRICS_PORT: '9191', MONITORING_ENABLED: 'false', AGENTD_ENVIRONMENT: 'staging' })
        .config.prometheus,
    ).toEqual({ enabled: false, port: 9191, environment: 'staging' });
    expect(load(`prometheus: { enabled: false }\n${MINIMAL}`).config.prometheus.enabled).toBe(false);
  });

  it('LOG_LEVEL is lower-cased (the standard ConfigMap says INFO)', () => {
    expect(load(MINIMAL, { LOG_LEVEL: 'DEBUG' }).config.logging.level).toBe('debug');
    expect(load(MINIMAL, { LOG_LEVEL: 'Warn' }).config.logging.level).toBe('warn');
  });

  it('booleans accept the usual spellings', () => {
    for (const v of ['true', '1', 'yes', 'ON'])
      expect(load(MINIMAL, { AGENTD_COMPAT_V03: v }).config.server.compatV03).toBe(true);
    for (const v of ['false', '0', 'no', 'Off'])
      expect(load(MINIMAL, { AGENTD_COMPAT_V03: v }).config.server.compatV03).toBe(false);
  });

  it('an empty variable is ignored', () => {
    expect(load('server: { httpPort: 9000 }\n' + MINIMAL, { HTTP_PORT: '' }).config.server.httpPort).toBe(
      9000,
    );
  });

  it('unrelated variables are ignored', () => {
    expect(load(MINIMAL, { PORT: '1234', AGENTD_PORT: '1234' }).config.server.httpPort).toBe(8080);
  });
});

describe('precedence', () => {
  it('flags over env over file', () => {
    const yaml =
      'server: { httpPort: 9000, host: filehost }\nlogging: { level: warn }\nexecution: { maxConcurrentWorkflows: 3 }\n' +
      MINIMAL;
    const env = {
      HTTP_PORT: '9001',
      AGENTD_HOST: 'envhost',
      LOG_LEVEL: 'ERROR',
      MAX_CONCURRENT_WORKFLOWS: '4',
    };
    expect(load(yaml).config.server.httpPort).toBe(9000);
    expect(load(yaml, env).config.server).toMatchObject({ httpPort: 9001, host: 'envhost' });
    const { config } = load(yaml, env, {
      port: 9002,
      host: 'flaghost',
      logLevel: 'TRACE',
      maxConcurrentWorkflows: 5,
      publicUrl: 'https://f.example.com',
    });
    expect(config.server).toMatchObject({
      httpPort: 9002,
      host: 'flaghost',
      publicUrl: 'https://f.example.com',
    });
    expect(config.logging.level).toBe('trace');
    expect(config.execution.maxConcurrentWorkflows).toBe(5);
  });

  it('an env value the flag replaces is not validated; an invalid flag is reported as the flag', () => {
    expect(load(MINIMAL, { HTTP_PORT: '70000' }, { port: 9000 }).config.server.httpPort).toBe(9000);
    const problems = problemsOf(() => load(MINIMAL, { HTTP_PORT: '9000' }, { port: 70000 }));
    expect(problems).toEqual([expect.stringMatching(/^server\.httpPort \(from --port\): /)]);
  });
});

describe('invalid configuration', () => {
  it('an out-of-range env value names the field and the variable', () => {
    const problems = problemsOf(() => load(MINIMAL, { HTTP_PORT: '70000' }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^server\.httpPort \(from env HTTP_PORT\): /);
  });

  it('a non-numeric env value names the field and the variable', () => {
    const problems = problemsOf(() => load(MINIMAL, { HTTP_PORT: 'abc', MAX_CONCURRENT_WORKFLOWS: '2.5' }));
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^server\.httpPort \(from env HTTP_PORT\): .*"abc"/);
    expect(problems[1]).toMatch(
      /^execution\.maxConcurrentWorkflows \(from env MAX_CONCURRENT_WORKFLOWS\): .*"2\.5"/,
    );
  });

  it('a bad boolean, log level or URL from the environment names field and variable', () => {
    expect(problemsOf(() => load(MINIMAL, { AGENTD_COMPAT_V03: 'maybe' }))).toEqual([
      expect.stringMatching(/^server\.compatV03 \(from env AGENTD_COMPAT_V03\): .*"maybe"/),
    ]);
    expect(problemsOf(() => load(MINIMAL, { LOG_LEVEL: 'verbose' }))).toEqual([
      expect.stringMatching(/^logging\.level \(from env LOG_LEVEL\): /),
    ]);
    expect(problemsOf(() => load(MINIMAL, { AGENTD_PUBLIC_URL: 'not a url' }))).toEqual([
      expect.stringMatching(/^server\.publicUrl \(from env AGENTD_PUBLIC_URL\): /),
    ]);
  });

  it('an integer variable must be written in plain decimal digits', () => {
    // Number() would read " " as 0 (a random port), "0x1F" as 31 and "1e3" as 1000.
    for (const value of [' ', '0x1F', '1e3', '80.0', '8080abc']) {
      expect(problemsOf(() => load(MINIMAL, { HTTP_PORT: value }))).toEqual([
        expect.stringMatching(/^server\.httpPort \(from env HTTP_PORT\): .*is not an integer/),
      ]);
    }
    expect(load(MINIMAL, { HTTP_PORT: '0' }).config.server.httpPort).toBe(0);
    expect(load(MINIMAL, { HTTP_PORT: ' 8081 ' }).config.server.httpPort).toBe(8081);
  });

  it('MAX_CONCURRENT_WORKFLOWS must be at least 1', () => {
    expect(problemsOf(() => load(MINIMAL, { MAX_CONCURRENT_WORKFLOWS: '0' }))).toEqual([
      expect.stringMatching(/^execution\.maxConcurrentWorkflows \(from env MAX_CONCURRENT_WORKFLOWS\): /),
    ]);
  });

  it('a bad file value names the field without an override origin, and reports the file', () => {
    const file = write('bad.yaml', 'server: { httpPort: -1 }\n' + MINIMAL);
    let error: unknown;
    try {
      loadConfig({ configPath: file, env: {}, cwd: dir });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).source).toBe(file);
    expect((error as ConfigError).message).toContain(file);
    expect((error as ConfigError).problems).toEqual([expect.stringMatching(/^server\.httpPort: /)]);
  });

  it('reports every problem at once', () => {
    const problems = problemsOf(() =>
      load('server: { httpPort: 99999 }\nexecution: { maxQueueDepth: -1 }\n' + MINIMAL),
    );
    expect(problems).toHaveLength(2);
    expect(problems.some((p) => p.startsWith('server.httpPort: '))).toBe(true);
    expect(problems.some((p) => p.startsWith('execution.maxQueueDepth: '))).toBe(true);
  });

  it('rejects unknown keys at the top level and inside sections', () => {
    expect(problemsOf(() => load('serverr: {}\n' + MINIMAL))).toEqual([expect.stringContaining('"serverr"')]);
    const nested = problemsOf(() => load('server: { prot: 1 }\n' + MINIMAL));
    expect(nested).toEqual([expect.stringMatching(/^server: .*"prot"/)]);
    const inAgent = problemsOf(() => load('agents:\n  - { name: e, kind: echo, colour: red }\n'));
    expect(inAgent).toEqual([expect.stringMatching(/^agents\.0: .*"colour"/)]);
  });

  it('rejects duplicate agent names, naming the second one', () => {
    const problems = problemsOf(() =>
      load('agents:\n  - { name: echo, kind: echo }\n  - { name: echo, kind: countdown }\n'),
    );
    expect(problems).toEqual([expect.stringMatching(/^agents\.1\.name: .*"echo"/)]);
  });

  it('rejects more than one default agent', () => {
    const problems = problemsOf(() =>
      load(
        'agents:\n  - { name: a, kind: echo, default: true }\n  - { name: b, kind: echo, default: true }\n',
      ),
    );
    expect(problems).toEqual([expect.stringMatching(/^agents: .*default/)]);
  });

  it('rejects an empty or missing agent list', () => {
    expect(problemsOf(() => load('agents: []\n'))).toEqual([
      expect.stringMatching(/^agents: must define at least one agent/),
    ]);
    expect(problemsOf(() => load('server: { httpPort: 1 }\n'))).toEqual([expect.stringMatching(/^agents: /)]);
    expect(problemsOf(() => load(''))).toEqual([expect.stringMatching(/^agents: /)]);
  });

  it('rejects a bad agent name or kind', () => {
    expect(problemsOf(() => load('agents:\n  - { name: "has space", kind: echo }\n'))).toEqual([
      expect.stringMatching(/^agents\.0\.name: /),
    ]);
    expect(problemsOf(() => load('agents:\n  - { name: a, kind: telepathy }\n'))).toEqual([
      expect.stringMatching(/^agents\.0\.kind: /),
    ]);
    expect(problemsOf(() => load('agents:\n  - { name: m, kind: module }\n'))).toEqual([
      expect.stringMatching(/^agents\.0\.module: /),
    ]);
  });

  it('rejects YAML that does not parse', () => {
    const problems = problemsOf(() => load('server: { httpPort: 8080\nagents: [\n'));
    expect(problems).toEqual([expect.stringMatching(/^not valid YAML: /)]);
  });

  it('rejects a top level that is not a mapping', () => {
    expect(problemsOf(() => load('- a\n- b\n'))).toEqual([
      expect.stringContaining('top level must be a mapping'),
    ]);
    expect(problemsOf(() => load('just a string\n'))).toEqual([
      expect.stringContaining('top level must be a mapping'),
    ]);
  });

  it('rejects a missing --config file, naming it', () => {
    const missing = join(dir, 'nope.yaml');
    const problems = problemsOf(() => loadConfig({ configPath: missing, env: {}, cwd: dir }));
    expect(problems).toEqual([`config file not found: ${missing}`]);
  });
});

describe('choosing the state store', () => {
  const MINIMAL_AGENTS = 'agents:\n  - { name: e, kind: echo }\n';

  it('is the embedded memory store by default', () => {
    expect(load(MINIMAL_AGENTS).config.store.kind).toBe('memory');
  });

  it('the standard REDIS_HOST / REDIS_PORT / REDIS_PASSWORD select Redis and are used', () => {
    const { store } = load(MINIMAL_AGENTS, {
      REDIS_HOST: 'redis-service',
      REDIS_PORT: '6380',
      REDIS_PASSWORD: 's3cret',
    }).config;
    expect(store.kind).toBe('redis');
    expect(store.redis).toMatchObject({ host: 'redis-service', port: 6380, password: 's3cret' });
    expect(redisUrl(store.redis)).toBe('redis://:s3cret@redis-service:6380/0');
    expect(redisAddress(store.redis)).toBe('redis://redis-service:6380/0');
  });

  it('REDIS_URL (rediss:// for TLS) selects Redis; a URL of another scheme names the field', () => {
    const { store } = load(MINIMAL_AGENTS, { REDIS_URL: 'rediss://:pw@cache.example:6390/2' }).config;
    expect(store.kind).toBe('redis');
    expect(redisUrl(store.redis)).toBe('rediss://:pw@cache.example:6390/2');
    const problems = problemsOf(() => load(MINIMAL_AGENTS, { REDIS_URL: 'http://nope' }));
    expect(problems.join('\n')).toContain('store.redis.url (from env REDIS_URL)');
  });

  it('an explicit choice wins over REDIS_HOST: the file, AGENTD_STORE or --store', () => {
    const env = { REDIS_HOST: 'redis-service' };
    expect(load(`store:\n  kind: memory\n${MINIMAL_AGENTS}`, env).config.store.kind).toBe('memory');
    expect(load(MINIMAL_AGENTS, { ...env, AGENTD_STORE: 'memory' }).config.store.kind).toBe('memory');
    expect(load(MINIMAL_AGENTS, env, { store: 'memory' }).config.store.kind).toBe('memory');
    expect(load(MINIMAL_AGENTS, {}, { store: 'redis' }).config.store.kind).toBe('redis');
  });
});

describe('MCP configuration', () => {
  const TOOLS = `mcp:
  servers:
    - { name: fs, transport: stdio, command: npx, args: [x] }
    - { name: web, transport: http, url: 'https://mcp.example.com/mcp', bearerToken: { env: WEB_TOKEN }, timeoutSeconds: 20, required: false }
agents:
  - { name: tools, kind: tools, servers: [fs, web], tools: [read_file, web/search] }
`;

  it('reads stdio and HTTP servers, with the 300 s timeout as default and MCP_SERVER_TIMEOUT over it', () => {
    const { config } = load(TOOLS);
    expect(config.mcp.timeoutSeconds).toBe(300);
    expect(config.mcp.servers[0]).toEqual({
      name: 'fs',
      transport: 'stdio',
      command: 'npx',
      args: ['x'],
      env: {},
      required: true,
    });
    expect(config.mcp.servers[1]).toMatchObject({
      bearerToken: { env: 'WEB_TOKEN' },
      timeoutSeconds: 20,
      required: false,
    });
    expect(load(TOOLS, { MCP_SERVER_TIMEOUT: '45' }).config.mcp.timeoutSeconds).toBe(45);
    expect(load(TOOLS, { AGENTD_MCP_ENDPOINT: 'false' }).config.mcp.endpoint).toBe(false);
    expect(problemsOf(() => load(TOOLS, { MCP_SERVER_TIMEOUT: 'soon' }))[0]).toMatch(
      /^mcp\.timeoutSeconds \(from env MCP_SERVER_TIMEOUT\): /,
    );
  });

  it('an agent naming an MCP server that is not configured is an error naming both', () => {
    const problems = problemsOf(() => load(TOOLS.replace('servers: [fs, web]', 'servers: [fs, github]')));
    expect(problems).toEqual([
      expect.stringMatching(/^agents\.0\.servers\.1: no MCP server "github" in mcp\.servers \(fs, web\)/),
    ]);
  });

  it('a server name used twice, or an HTTP server without a URL, is an error', () => {
    const twice = TOOLS.replace('name: web', 'name: fs').replace('servers: [fs, web]', 'servers: [fs]');
    expect(problemsOf(() => load(twice))).toEqual([
      expect.stringMatching(/^mcp\.servers\.1\.name: "fs" is used twice/),
    ]);
    expect(problemsOf(() => load(TOOLS.replace("url: 'https://mcp.example.com/mcp', ", '')))[0]).toMatch(
      /^mcp\.servers\.1\.url/,
    );
  });
});
