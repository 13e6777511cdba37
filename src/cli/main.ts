import { AgentCard, Task, TaskState } from '@a2a-js/sdk';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { LevelWithSilent } from 'pino';
import { AgentLoadError } from '../agents/agent-factory.js';
import { AuthConfigError } from '../security/authenticator.js';
import { credentialsFrom } from '../client/auth.js';
import { VERSION } from '../version.js';
import { connect, fetchCard, TRANSPORTS, type TransportName } from '../client/connect.js';
import { Outbound, OutboundConfigError } from '../security/outbound.js';
import { TlsMaterialError } from '../security/tls-files.js';
import { ConfigError, ENV_OVERRIDES, loadConfig } from '../config/load-config.js';
import { stateLabel } from '../engine/task-state.js';
import { createLogger } from '../observability/logger.js';
import type { AgentdServer } from '../server/agentd-server.js';
import { redisAddress } from '../store/create-store.js';
import { parseAgentUrl } from './agent-url.js';
import { clientOptions, outboundFromArgs, type ClientArgs } from './client-options.js';
import { intArg, parseState, UsageError } from './args.js';
import { addSendCommand } from './send-command.js';
import { addBackupCommands } from './backup-command.js';
import type { AgentCaller } from '../engine/agent-caller.js';
import { formatTask } from './format.js';
import { FETCH_ALLOW_ENV, parseFetchAllow, runDemoMcpServerStdio } from '../mcp/demo-server.js';

/**
 * Exit codes (docs/cli.md): 0 ok (help included, and `agentd` alone, which prints it), 1 a
 * runtime or remote error or a task that ended other than completed, 2 bad usage or an
 * invalid configuration.
 */
export const EXIT = { OK: 0, ERROR: 1, USAGE: 2 } as const;

export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
  /** What `agentd restore --in -` reads (default process.stdin). */
  readonly stdin?: NodeJS.ReadableStream;
}

/**
 * Runs the CLI. Resolves with the exit code for one-shot commands; `serve` resolves when
 * the server has started and keeps running until SIGTERM/SIGINT (see `bin/agentd.js`);
 * `mcp-demo-server` resolves when its stdin closes.
 */
export async function runCli(
  argv: string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env },
): Promise<number> {
  const out = (s: string): void => void io.stdout.write(`${s}\n`);
  const fail = (s: string): void => void io.stderr.write(`error: ${s}\n`);
  let exitCode: number = EXIT.OK;
  const outbounds: Outbound[] = [];
  /** The resilient callers `send` made (their connections are closed when the command ends). */
  const callers: AgentCaller[] = [];
  /** Outbound TLS from --ca/--cert/--key (closed when the command ends). */
  const outboundOf = async (opts: ClientArgs): Promise<Outbound> => {
    const o = await outboundFromArgs(opts);
    if (o !== Outbound.none) outbounds.push(o);
    return o;
  };

  /** The SDK client for an agent, with the command's credentials and TLS. */
  const connectTo = async (url: string, opts: ClientArgs & { transport: TransportName }) =>
    connect(url, opts.transport, await outboundOf(opts), undefined, credentialsFrom(opts, io.env));

  const program = new Command('agentd')
    .description(
      'agentd: a production runtime for A2A v1.0 agents, served over JSON-RPC 2.0 + SSE, HTTP+JSON (REST) and gRPC',
    )
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('serve')
    .description('start the server and host the configured agents')
    .option('-c, --config <file>', 'YAML config (default: ./agentd.yaml if present, else the bundled demo)')
    .option('-p, --port <port>', 'HTTP port (env HTTP_PORT, default 8080)', intArg('--port'))
    .option('--host <host>', 'address to bind (env AGENTD_HOST, default 0.0.0.0)')
    .option('--public-url <url>', 'base URL agent cards advertise (env AGENTD_PUBLIC_URL)')
    .addOption(
      new Option('--log-level <level>', 'log level (env LOG_LEVEL, default info)').choices([
        'fatal',
        'error',
        'warn',
        'info',
        'debug',
        'trace',
        'silent',
      ]),
    )
    .option(
      '--max-concurrent-workflows <n>',
      'tasks executing at once (env MAX_CONCURRENT_WORKFLOWS, default 50)',
      intArg('--max-concurrent-workflows', 1),
    )
    .addOption(
      new Option(
        '--transport <bindings>',
        'A2A bindings to serve: http (JSON-RPC + REST), grpc, or both (env A2A_TRANSPORT, default both)',
      ).choices(['http', 'grpc', 'both']),
    )
    .option('--grpc-port <port>', 'gRPC port (env GRPC_PORT, default 8081)', intArg('--grpc-port'))
    .addOption(
      new Option(
        '--store <kind>',
        'state store: memory (embedded) or redis (env AGENTD_STORE; REDIS_URL or REDIS_HOST alone also selects redis)',
      ).choices(['memory', 'redis']),
    )
    .addHelpText(
      'after',
      `\nEnvironment variables (override the config file; flags override both):\n${ENV_OVERRIDES.map((e) => `  ${e.env.padEnd(26)} ${e.path.join('.')}`).join('\n')}\n\nAuthentication is off unless configured (any caller may use every agent). Turn it on with\n  API_KEY=<key>              one API key (clients send X-API-Key), or auth.apiKeys / AGENTD_API_KEYS_FILE\n  JWT_SECRET=<secret>        HS256 bearer JWTs, or JWT_JWKS_URL (+ JWT_ISSUER, JWT_AUDIENCE) for an issuer's keys\n  TLS_CLIENT_CA_FILE=<pem>   client certificates (mTLS, with TLS_CERT_FILE and TLS_KEY_FILE)\n  AGENTD_AUTH_REQUIRED=true  refuse to start when none of these is configured\nSee docs/security.md.\n\nExit codes: 0 after a clean shutdown, 2 for an invalid config.`,
    )
    .action(
      async (opts: {
        config?: string;
        port?: number;
        host?: string;
        publicUrl?: string;
        logLevel?: string;
        maxConcurrentWorkflows?: number;
        transport?: string;
        grpcPort?: number;
        store?: string;
      }) => {
        let loaded;
        try {
          loaded = loadConfig({
            configPath: opts.config,
            env: io.env,
            flags: {
              port: opts.port,
              host: opts.host,
              publicUrl: opts.publicUrl,
              logLevel: opts.logLevel,
              maxConcurrentWorkflows: opts.maxConcurrentWorkflows,
              transport: opts.transport,
              grpcPort: opts.grpcPort,
              store: opts.store,
            },
          });
        } catch (error) {
          if (error instanceof ConfigError) {
            io.stderr.write(`${error.message}\n`);
            exitCode = EXIT.USAGE;
            return;
          }
          throw error;
        }
        const { config } = loaded;
        const logger = createLogger(
          config.logging.level as LevelWithSilent,
          undefined,
          config.server.region ? { region: config.server.region } : {},
        );
        let server: AgentdServer;
        try {
          // Loaded here, so client commands and the demo MCP server start without the runtime.
          const { AgentdServer } = await import('../server/agentd-server.js');
          server = await AgentdServer.create(config, logger, loaded.baseDir);
        } catch (error) {
          // Agents that cannot load and TLS files that are unusable are configuration errors.
          if (
            error instanceof AgentLoadError ||
            error instanceof TlsMaterialError ||
            error instanceof OutboundConfigError ||
            error instanceof AuthConfigError
          ) {
            io.stderr.write(`Invalid configuration (${loaded.source}):\n  - ${error.message}\n`);
            exitCode = EXIT.USAGE;
            return;
          }
          throw error;
        }
        let started: { url: string; grpcAddress: string | undefined };
        try {
          started = await server.start();
        } catch (error) {
          // A port in use (or any other failure to start): say which, and exit 1, not half-started.
          const { ListenError } = await import('../server/agentd-server.js');
          io.stderr.write(`agentd could not start: ${(error as Error).message}\n`);
          if (!(error instanceof ListenError)) logger.error({ err: error }, 'start failed');
          exitCode = EXIT.ERROR;
          return;
        }
        const { url, grpcAddress } = started;
        const httpRole =
          config.server.transport === 'grpc'
            ? 'agent cards, /health, /ready, /api/v1/agents'
            : 'JSON-RPC + SSE and HTTP+JSON per agent, /health, /ready, /api/v1/agents';
        const banner = [
          `agentd ${VERSION} listening on ${config.server.host}:${new URL(url).port || config.server.httpPort} (config: ${loaded.source})`,
          `  HTTP      ${url}   ${httpRole}`,
          ...(grpcAddress
            ? [`  gRPC      ${grpcAddress}   lf.a2a.v1.A2AService, agents by tenant (= agent name)`]
            : []),
          ...(server.metricsAddress
            ? [`  metrics   http://${server.metricsAddress}/metrics   Prometheus`]
            : []),
          `  store     ${config.store.kind === 'redis' ? `redis ${redisAddress(config.store.redis)}` : 'memory (embedded)'}   max concurrent workflows: ${config.execution.maxConcurrentWorkflows}`,
          ...server.listAgents.map(
            (a) => `  agent     ${a.name.padEnd(12)} ${url}/a2a/${a.name}/.well-known/agent-card.json`,
          ),
          `  default   ${url}/.well-known/agent-card.json`,
          `try: npx --no-install agentd send ${url}/a2a/${server.listAgents[0]?.name ?? 'echo'}/ "hello"   (in the agentd directory; \`agentd send\` after \`npm link\`)`,
        ];
        io.stderr.write(`${banner.join('\n')}\n`);
        logger.info(
          {
            url,
            grpc: grpcAddress,
            metrics: server.metricsAddress,
            agents: server.listAgents.map((a) => a.name),
            store: config.store.kind,
          },
          'agentd listening',
        );
        activeServer = server;
      },
    );

  addSendCommand(program, {
    out,
    fail,
    env: io.env,
    failed: () => (exitCode = EXIT.ERROR),
    track: (caller) => callers.push(caller),
  });

  const cardCommand = program
    .command('card')
    .description('fetch, validate and pretty-print an agent card')
    .argument('<url>', 'agent card URL, or an agent / server base URL', parseAgentUrl)
    .option('--json', 'print the card JSON only')
    .option('--verify', 'check the card signature against the keys given with --jwks (exit 1 when it fails)')
    .option('--jwks <url|file>', 'the trusted JWKS (URL or file) --verify checks against');
  clientOptions(cardCommand).action(
    async (url: string, opts: { json?: boolean; verify?: boolean; jwks?: string } & ClientArgs) => {
      if (opts.verify && !opts.jwks) {
        fail(
          '--verify needs --jwks <url|file>: the keys you trust (a key location inside the card is never trusted)',
        );
        exitCode = EXIT.USAGE;
        return;
      }
      const {
        url: cardUrl,
        card,
        raw,
      } = await fetchCard(url, await outboundOf(opts), credentialsFrom(opts, io.env));
      let verified: string | undefined;
      if (opts.jwks) {
        const { loadTrustedKeys, verifyCard } = await import('../security/card-signing.js');
        const trusted = await loadTrustedKeys(opts.jwks);
        try {
          verified = `signature: verified (key ${await verifyCard(raw, trusted, cardUrl)}, trusted keys from ${opts.jwks})`;
        } catch (error) {
          fail(
            `${(error as Error).message} (reason: ${(error as { data?: { reason?: string } }).data?.reason ?? 'unknown'})`,
          );
          exitCode = EXIT.ERROR;
          return;
        }
      }
      if (opts.json) {
        out(JSON.stringify(AgentCard.toJSON(card), null, 2));
        return;
      }
      out(`${card.name} ${card.version}  (${cardUrl})`);
      if (card.description) out(`  ${card.description}`);
      if (verified) out(`  ${verified}`);
      out(
        `  capabilities: streaming=${card.capabilities?.streaming ?? false} pushNotifications=${card.capabilities?.pushNotifications ?? false} extendedAgentCard=${card.capabilities?.extendedAgentCard ?? false}`,
      );
      out('  interfaces:');
      for (const i of card.supportedInterfaces)
        out(
          `    ${i.protocolBinding.padEnd(10)} v${i.protocolVersion || '?'}  ${i.url}${i.tenant ? ` (tenant ${i.tenant})` : ''}`,
        );
      out('  skills:');
      for (const s of card.skills)
        out(`    ${s.id}: ${s.description || s.name}${s.tags.length ? ` [${s.tags.join(', ')}]` : ''}`);
    },
  );

  const tasks = program.command('tasks').description('list, inspect and cancel tasks on an agent');
  const transportOption = (): Option =>
    new Option('-t, --transport <name>', 'transport to use')
      .choices(Object.keys(TRANSPORTS))
      .default('jsonrpc');
  const listCommand = tasks
    .command('list')
    .description('list tasks, most recently updated first')
    .argument('<url>', 'agent card URL or agent base URL', parseAgentUrl)
    .option('--context <id>', 'only tasks in this context')
    .option('--status <state>', 'only tasks in this state (e.g. working, completed, TASK_STATE_FAILED)')
    .option('--page-size <n>', 'tasks per page (1-100, default 50)', intArg('--page-size', 1))
    .option('--page-token <token>', 'page token from a previous listing')
    .addOption(transportOption())
    .option('--json', 'print raw JSON');
  clientOptions(listCommand).action(
    async (
      url: string,
      opts: {
        context?: string;
        status?: string;
        pageSize?: number;
        pageToken?: string;
        transport: TransportName;
        json?: boolean;
      } & ClientArgs,
    ) => {
      const { client } = await connectTo(url, opts);
      const res = await client.listTasks({
        tenant: '',
        contextId: opts.context ?? '',
        status: opts.status ? parseState(opts.status) : TaskState.TASK_STATE_UNSPECIFIED,
        pageSize: opts.pageSize,
        pageToken: opts.pageToken ?? '',
        historyLength: 0,
        statusTimestampAfter: undefined,
        includeArtifacts: false,
      });
      if (opts.json) {
        out(
          JSON.stringify({
            tasks: res.tasks.map((t) => Task.toJSON(t)),
            nextPageToken: res.nextPageToken,
            totalSize: res.totalSize,
          }),
        );
        return;
      }
      for (const t of res.tasks)
        out(
          `${t.id}  ${stateLabel(t.status?.state).padEnd(15)} ${t.status?.timestamp ?? ''}  context ${t.contextId}`,
        );
      out(
        `${res.tasks.length} of ${res.totalSize} task(s)${res.nextPageToken ? `; next page: --page-token ${res.nextPageToken}` : ''}`,
      );
    },
  );
  const getCommand = tasks
    .command('get')
    .description('show one task')
    .argument('<url>', 'agent card URL or agent base URL', parseAgentUrl)
    .argument('<id>', 'task id')
    .option('--history-length <n>', 'at most this many history messages', intArg('--history-length'))
    .addOption(transportOption())
    .option('--json', 'print raw JSON');
  clientOptions(getCommand).action(
    async (
      url: string,
      id: string,
      opts: { historyLength?: number; transport: TransportName; json?: boolean } & ClientArgs,
    ) => {
      const { client } = await connectTo(url, opts);
      const task = await client.getTask({ tenant: '', id, historyLength: opts.historyLength });
      out(opts.json ? JSON.stringify(Task.toJSON(task)) : formatTask(task));
    },
  );
  const cancelCommand = tasks
    .command('cancel')
    .description('cancel a task')
    .argument('<url>', 'agent card URL or agent base URL', parseAgentUrl)
    .argument('<id>', 'task id')
    .addOption(transportOption())
    .option('--json', 'print raw JSON');
  clientOptions(cancelCommand).action(
    async (url: string, id: string, opts: { transport: TransportName; json?: boolean } & ClientArgs) => {
      const { client } = await connectTo(url, opts);
      const task = await client.cancelTask({ tenant: '', id, metadata: undefined });
      out(opts.json ? JSON.stringify(Task.toJSON(task)) : formatTask(task));
    },
  );

  addBackupCommands(program, {
    stdin: io.stdin ?? process.stdin,
    stdout: io.stdout,
    stderr: io.stderr,
    env: io.env,
    outbound: outboundOf,
  });

  program
    .command('mcp-demo-server')
    .description(
      "serve agentd's demo MCP server on stdio until stdin closes (tools: time_now, calculate, fetch_url, sleep)",
    )
    .option(
      '--fetch-allow <hosts>',
      `hosts fetch_url may GET, comma-separated: example.com, *.example.com (env ${FETCH_ALLOW_ENV}; default none: fetching disabled)`,
      (v: string) => {
        try {
          return parseFetchAllow(v);
        } catch (error) {
          throw new InvalidArgumentError((error as Error).message);
        }
      },
    )
    .addHelpText(
      'after',
      `
An MCP client starts it as a child process and talks MCP over its stdin/stdout, e.g.
  agentd mcp-demo-server --fetch-allow 'example.com,*.wikipedia.org'
stdout carries only the protocol (newline-delimited JSON-RPC); diagnostics go to stderr.

Tools:
  time_now    the current time in an IANA time zone (default UTC)
  calculate   arithmetic: + - * / % ^, parentheses, sqrt abs round floor ceil min max, pi e
  fetch_url   HTTP GET of allow-listed hosts only (redirects re-checked, 10 s timeout, 100 KiB cap)
  sleep       waits up to 600 s with progress every second; honours cancellation

Exit codes: 0 when stdin closes, 2 for an invalid --fetch-allow or ${FETCH_ALLOW_ENV}.`,
    )
    .action(async (opts: { fetchAllow?: string[] }) => {
      let fetchAllow = opts.fetchAllow;
      try {
        fetchAllow ??= parseFetchAllow(io.env[FETCH_ALLOW_ENV] ?? '');
      } catch (error) {
        fail(`${FETCH_ALLOW_ENV}: ${(error as Error).message}`);
        exitCode = EXIT.USAGE;
        return;
      }
      io.stderr.write(
        `agentd ${VERSION} demo MCP server on stdio; fetch_url allows: ${fetchAllow.length > 0 ? fetchAllow.join(', ') : 'nothing (fetching disabled)'}\n`,
      );
      await runDemoMcpServerStdio({ fetchAllow });
    });

  // `agentd` alone (or a command group alone) is a request for help, answered on stdout.
  const args = argv.length === 0 || (argv.length === 1 && argv[0] === 'tasks') ? [...argv, '--help'] : argv;
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help')
      return EXIT.OK;
    if (typeof code === 'string' && code.startsWith('commander.')) return EXIT.USAGE;
    fail((error as Error).message);
    return error instanceof UsageError ? EXIT.USAGE : EXIT.ERROR;
  } finally {
    await Promise.all([...outbounds.map((o) => o.close()), ...callers.map((c) => c.close())]);
  }
  return exitCode;
}

/** The server started by `serve`, for the signal handlers in `bin/agentd.js`. */
export let activeServer: AgentdServer | undefined;
