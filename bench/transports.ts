/**
 * Transports benchmark: agentd over JSON-RPC, REST and gRPC side by side, in
 * one run on one machine, with references built from the SDK's stock path
 * (`DefaultRequestHandler` + `InMemoryTaskStore` behind express
 * `jsonRpcHandler`, and behind `grpcService`).
 *
 * For each contender:
 * - unary `SendMessage` to the `echo` agent at 1 and 32 requests in flight
 *   (req/s, p50, p99): wrk for HTTP (bench/lua/*-send.lua), the grpc-js load
 *   generator of bench/lib/grpc-load.ts for both gRPC servers;
 * - streaming: one `SendStreamingMessage` of `chunks 1000` at a time to the
 *   `chunks` agent (bench/agents/chunks-agent.ts, the same executor in agentd
 *   and in the references): time to first event and events/s, medians over
 *   several streams.
 *
 * Only one server runs at a time (the load generator has the other core), and
 * each agentd transport gets a fresh agentd process (`--transport both`).
 * agentd's config is bench/agentd-bench.yaml plus the chunks agent as a
 * `kind: module` entry, written to a temporary file. Every answer is checked
 * for the right semantics; any error aborts with exit code 1. Missed targets
 * are reported but exit 0: this is a measurement, not a test.
 *
 * Writes bench/results/transports.{json,md} and prints the markdown.
 *
 * Environment:
 * - `BENCH_DURATION`: seconds per measured unary run (default 6).
 * - `BENCH_ONLY`: comma-separated contender ids (e.g. `agentd-grpc`) to run
 *   alone, for profiling; no results are written then.
 * - `BENCH_AGENTD_NODE_ARGS`: extra node arguments for agentd, split on
 *   whitespace (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentCard } from '@a2a-js/sdk';
import { parse, stringify } from 'yaml';
import { DEFAULT_CHUNKS } from './agents/chunks-agent.js';
import {
  echoProblem,
  httpRequestBody,
  httpRequestText,
  sendMessageRequest,
  type HttpBinding,
} from './lib/a2a.js';
import { compileToTempModule } from './lib/compile.js';
import { ensureH2load, IN_FLIGHT_PER_CONNECTION, runH2loadUnary } from './lib/grpc-h2load.js';
import { connectGrpc, grpcSend, grpcStreamOnce } from './lib/grpc-load.js';
import { A2AService } from '@a2a-js/sdk/server/grpc';
import { sseStreamOnce, verifyHttpEcho } from './lib/http-a2a.js';
import {
  freePort,
  readRssMb,
  startCpuMeter,
  startServer,
  waitForQuietMachine,
  type CpuShares,
  type RunningServer,
  type ServerSpec,
} from './lib/proc.js';
import {
  durationSeconds,
  machineInfo,
  printOutcome,
  runBenchmark,
  writeFormatted,
  type TargetResult as BaseTargetResult,
} from './lib/report.js';
import { agentdSpec, referenceSpec } from './lib/servers.js';
import { measureStream, type StreamCapture, type StreamResult } from './lib/streaming.js';
import { ensureWrk, runWrk, wrkScriptBody, wrkVersion, type WrkLatencyMs } from './lib/wrk.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS_DIR = join(ROOT, 'bench/results');
const LUA = {
  jsonrpc: join(ROOT, 'bench/lua/jsonrpc-send.lua'),
  rest: join(ROOT, 'bench/lua/rest-send.lua'),
};
const BASE_CONFIG = join(ROOT, 'bench/agentd-bench.yaml');
const CHUNKS_AGENT_TS = join(ROOT, 'bench/agents/chunks-agent.ts');
const CHUNKS_EXPORT = 'chunksExecutor';
const SDK_JSONRPC_TS = join(ROOT, 'bench/reference/sdk-jsonrpc-server.ts');
const SDK_GRPC_TS = join(ROOT, 'bench/reference/sdk-grpc-server.ts');

/** The start-up banner's gRPC line (`  gRPC      host:port   ...`), printed once agentd is fully up. */
const GRPC_BANNER = /^ {2}gRPC\s+(\S+)/;

const DEFAULT_DURATION_SECONDS = 6;
const WARMUP_SECONDS = 2;
const WARMUP_IN_FLIGHT = 32;
const IN_FLIGHT = [1, 32] as const;
const STREAM_WARMUPS = 10;
const STREAM_RUNS = 21;
const CHUNKS = DEFAULT_CHUNKS;

/** Before each measurement, wait up to 5 s for half a second in which the machine is (nearly) idle. */
const QUIET = { maxWaitMs: 5_000, windowMs: 500, maxBusyPercent: 20 } as const;

const TARGET_GRPC_RATIO = 2;
const TARGET_HTTP_RATIO = 3;
const TARGET_HTTP_P50_MS = 0.3;
const TARGET_EVENTS_PER_SECOND = 20_000;

/** The figures the A2A gRPC guide claims ("HTTP/JSON ~50 ms, 1K req/s; gRPC ~10 ms, 10K req/s"). */
const SEED_CLAIMS = {
  http: { latencyMs: 50, requestsPerSecond: 1_000 },
  grpc: { latencyMs: 10, requestsPerSecond: 10_000 },
} as const;

type Transport = 'JSON-RPC' | 'REST' | 'gRPC';
type ContenderId = 'agentd-jsonrpc' | 'agentd-rest' | 'agentd-grpc' | 'sdk-jsonrpc' | 'sdk-grpc';

interface Contender {
  id: ContenderId;
  server: 'agentd' | 'sdk-reference';
  transport: Transport;
  /** The SDK reference it is compared with. */
  reference: ContenderId | undefined;
  /** Starts the server(s) and measures: unary first, then streaming. */
  run(secs: number): Promise<Omit<ContenderResult, 'id' | 'server' | 'transport' | 'reference'>>;
}

/** One unary run, whatever the load generator. */
interface UnaryRun {
  inFlight: number;
  /** HTTP connections (wrk) or gRPC channels. */
  connections: number;
  durationSeconds: number;
  requests: number;
  requestsPerSecond: number;
  latencyMs: WrkLatencyMs;
  /** Server CPU time per completed request. */
  serverCpuMsPerRequest: number;
  cpu: CpuShares;
  quiet: QuietWait;
}

/** How long a measurement waited for the machine to be quiet, and whether it was. */
interface QuietWait {
  waitedSeconds: number;
  quiet: boolean;
}

/** The streaming measure, with the CPU it cost. */
interface StreamingResult extends StreamResult {
  warmups: number;
  /** Server CPU time per stream, over the measured streams. */
  serverCpuMsPerStream: number;
  cpu: CpuShares;
  quiet: QuietWait;
}

interface ContenderResult {
  id: ContenderId;
  server: 'agentd' | 'sdk-reference';
  transport: Transport;
  reference: ContenderId | undefined;
  loadGenerator: string;
  commands: string[];
  /** RSS in MiB of the unary server after start-up and one verification request. */
  idleRssMb: number;
  unary: UnaryRun[];
  stream: StreamingResult;
}

interface TargetResult extends BaseTargetResult {
  /** Which of the issue's three targets this belongs to. */
  group: 'gRPC unary' | 'HTTP unary' | 'streaming';
}

/** A unary run as the load generator reports it. */
type LoadRun = Omit<UnaryRun, 'serverCpuMsPerRequest' | 'cpu' | 'quiet'>;

/** Measures unary SendMessage at one level of concurrency. */
type UnaryDriver = (inFlight: number, secs: number) => Promise<LoadRun>;

function commandOf(spec: ServerSpec): string {
  return [spec.command, ...spec.args].join(' ');
}

/** Runs `body` with the server of `spec` running; always stops it. */
async function withServer<T>(spec: ServerSpec, body: (server: RunningServer) => Promise<T>): Promise<T> {
  console.log(`\n== ${spec.name}: starting`);
  const server = await startServer(spec);
  console.log(`   pid ${server.pid}, port ${server.port}`);
  try {
    return await body(server);
  } finally {
    await server.stop();
  }
}

/** Waits for a quiet machine (see {@link QUIET}); says so when it had to wait. */
async function quietMachine(name: string): Promise<QuietWait> {
  const wait = await waitForQuietMachine(QUIET);
  if (!wait.quiet) {
    console.warn(
      `   ${name}: the machine is still busy after ${wait.waitedSeconds.toFixed(1)} s; measuring anyway`,
    );
  } else if (wait.waitedSeconds > 1) {
    console.log(`   ${name}: waited ${wait.waitedSeconds.toFixed(1)} s for a quiet machine`);
  }
  return wait;
}

function cpuLine(cpu: CpuShares): string {
  return (
    `CPU % of a core: server ${cpu.serverPercent.toFixed(0)}, load generator ${cpu.loadGenPercent.toFixed(0)}, ` +
    `other ${cpu.otherPercent.toFixed(0)}`
  );
}

/** Warm-up, then one run per level of {@link IN_FLIGHT}, metering the CPU of each. */
async function measureUnary(
  name: string,
  serverPid: number,
  drive: UnaryDriver,
  secs: number,
): Promise<UnaryRun[]> {
  console.log(`   unary: warm-up ${WARMUP_SECONDS}s at ${WARMUP_IN_FLIGHT} in flight`);
  await drive(WARMUP_IN_FLIGHT, WARMUP_SECONDS);
  const runs: UnaryRun[] = [];
  for (const inFlight of IN_FLIGHT) {
    const quiet = await quietMachine(name);
    const meter = startCpuMeter(serverPid);
    const run = await drive(inFlight, secs);
    const cpu = meter.stop();
    console.log(
      `   ${name} unary, ${inFlight} in flight: ${run.requestsPerSecond.toFixed(0)} req/s, ` +
        `p50 ${run.latencyMs.p50.toFixed(3)} ms, p99 ${run.latencyMs.p99.toFixed(3)} ms; ${cpuLine(cpu)}`,
    );
    runs.push({ ...run, serverCpuMsPerRequest: (1000 * cpu.serverSeconds) / run.requests, cpu, quiet });
  }
  return runs;
}

/** Warm-up streams, then the measured ones, metering their CPU. */
async function measureStreaming(
  name: string,
  serverPid: number,
  once: () => Promise<StreamCapture>,
): Promise<StreamingResult> {
  await measureStream(once, { name, chunks: CHUNKS, runs: STREAM_WARMUPS });
  const quiet = await quietMachine(name);
  const meter = startCpuMeter(serverPid);
  const result = await measureStream(once, { name, chunks: CHUNKS, runs: STREAM_RUNS });
  const cpu = meter.stop();
  console.log(
    `   ${name} streaming: first event ${result.firstEventMs.toFixed(2)} ms, ` +
      `${result.eventsPerSecond.toFixed(0)} events/s (median of ${result.runs}); ${cpuLine(cpu)}`,
  );
  return {
    ...result,
    warmups: STREAM_WARMUPS,
    serverCpuMsPerStream: (1000 * cpu.serverSeconds) / result.runs,
    cpu,
    quiet,
  };
}

/** wrk with the binding's script; the script's body is verified first. */
async function wrkDriver(name: string, url: string, binding: HttpBinding): Promise<UnaryDriver> {
  const script = LUA[binding];
  const body = wrkScriptBody(script);
  await verifyHttpEcho({ name, url, binding, body }, httpRequestText(binding, body));
  return async (inFlight, secs) => {
    const r = await runWrk({ url, connections: inFlight, durationSeconds: secs, script });
    return { ...r, inFlight, connections: inFlight };
  };
}

/**
 * The gRPC load generator (h2load, see bench/lib/grpc-h2load.ts). h2load cannot
 * read `grpc-status`, so a real grpc-js call checks the answer before and after
 * each run, and each run's response bytes per request must be at least a
 * successful answer's size (an error answer is a short trailers-only response).
 */
async function grpcDriver(name: string, address: string, tenant: string, text: string): Promise<UnaryDriver> {
  const request = sendMessageRequest(text, tenant);
  const verify = async (when: string): Promise<number> => {
    const client = await connectGrpc(address);
    try {
      const response = await grpcSend(client, request);
      const problem = echoProblem(response, text);
      if (problem) {
        throw new Error(
          `${name}: gRPC SendMessage to ${address} ${when} is not the completed echo task (${problem})`,
        );
      }
      return A2AService.sendMessage.responseSerialize(response).length + 5;
    } finally {
      client.close();
    }
  };
  const answerBytes = await verify('before the load');
  return async (inFlight, secs) => {
    const r = runH2loadUnary({ address, request, inFlight, durationSeconds: secs });
    if (r.bytesPerRequest < answerBytes) {
      throw new Error(
        `${name}: h2load saw ${r.bytesPerRequest.toFixed(0)} response bytes per call, less than one successful answer (${answerBytes}): some calls failed`,
      );
    }
    await verify('after the load');
    return { ...r, connections: r.connections };
  };
}

/** Runs a streaming measure with a way to open one stream (and whatever connection it needs). */
type StreamSource = (
  measure: (once: () => Promise<StreamCapture>) => Promise<StreamingResult>,
) => Promise<StreamingResult>;

function sseSource(name: string, url: string, binding: HttpBinding): StreamSource {
  const body = httpRequestBody(binding, 'SendStreamingMessage', `chunks ${CHUNKS}`);
  return (measure) => measure(() => sseStreamOnce({ name, url, binding, body }));
}

/** One gRPC connection for all the streams, as one subscriber would have. */
function grpcSource(address: string, tenant: string): StreamSource {
  const request = sendMessageRequest(`chunks ${CHUNKS}`, tenant);
  return async (measure) => {
    const client = await connectGrpc(address);
    try {
      return await measure(() => grpcStreamOnce(client, request));
    } finally {
      client.close();
    }
  };
}

/** agentd's interfaces for one agent, read from its card; its gRPC address must be the banner's. */
async function agentdInterfaces(
  base: string,
  agent: string,
  bannerGrpc: string | undefined,
): Promise<{ jsonrpc: string; rest: string; grpc: string; tenant: string }> {
  const url = `${base}/a2a/${agent}/.well-known/agent-card.json`;
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status}`);
  const card = AgentCard.fromJSON(await res.json());
  const find = (binding: string): { url: string; tenant: string } => {
    const i = card.supportedInterfaces.find(
      (s) => s.protocolBinding === binding && s.protocolVersion === '1.0',
    );
    if (!i) throw new Error(`${url} lists no ${binding} 1.0 interface`);
    return i;
  };
  const grpc = find('GRPC');
  if (grpc.url !== bannerGrpc) {
    throw new Error(`${url}: GRPC interface at ${grpc.url}, but the start-up banner says ${bannerGrpc}`);
  }
  if (grpc.tenant !== agent)
    throw new Error(`${url}: GRPC interface tenant is "${grpc.tenant}", expected "${agent}"`);
  return {
    jsonrpc: find('JSONRPC').url,
    rest: find('HTTP+JSON').url.replace(/\/+$/, ''),
    grpc: grpc.url,
    tenant: agent,
  };
}

/** Writes agentd's benchmark config: bench/agentd-bench.yaml plus the chunks agent. */
function writeAgentdConfig(): string {
  const chunksModule = compileToTempModule(CHUNKS_AGENT_TS, ROOT);
  const config = parse(readFileSync(BASE_CONFIG, 'utf8')) as { agents: Record<string, unknown>[] };
  config.agents.push({ name: 'chunks', kind: 'module', module: chunksModule, export: CHUNKS_EXPORT });
  const file = join(dirname(chunksModule), 'agentd-transports.yaml');
  writeFileSync(file, stringify(config));
  return file;
}

function agentdContender(transport: Transport, configFile: string): Contender {
  const id = ({ 'JSON-RPC': 'agentd-jsonrpc', REST: 'agentd-rest', gRPC: 'agentd-grpc' } as const)[transport];
  return {
    id,
    server: 'agentd',
    transport,
    reference: transport === 'JSON-RPC' ? 'sdk-jsonrpc' : transport === 'gRPC' ? 'sdk-grpc' : undefined,
    run: async (secs) => {
      const [port, grpcPort] = [await freePort(), await freePort()];
      const spec = agentdSpec({
        name: `agentd (${transport})`,
        root: ROOT,
        config: configFile,
        port,
        args: ['--transport', 'both', '--grpc-port', String(grpcPort)],
        readyLine: GRPC_BANNER,
        nodeArgs: process.env.BENCH_AGENTD_NODE_ARGS?.trim().split(/\s+/).filter(Boolean),
        // h2load sends one fixed gRPC frame, so every call repeats one messageId: with the
        // messageId ledger on, agentd would answer repeats instead of running the agent.
        ...(transport === 'gRPC' ? { env: { AGENTD_DEDUPE_MESSAGE_IDS: 'false' } } : {}),
      });
      return withServer(spec, async (server) => {
        const base = `http://127.0.0.1:${server.port}`;
        const banner = GRPC_BANNER.exec(server.readyLine ?? '')?.[1];
        const echo = await agentdInterfaces(base, 'echo', banner);
        const chunks = await agentdInterfaces(base, 'chunks', banner);
        const text = httpRequestText('jsonrpc', wrkScriptBody(LUA.jsonrpc));
        const [drive, streams] =
          transport === 'gRPC'
            ? [await grpcDriver(id, echo.grpc, echo.tenant, text), grpcSource(chunks.grpc, chunks.tenant)]
            : transport === 'REST'
              ? [
                  await wrkDriver(id, `${echo.rest}/message:send`, 'rest'),
                  sseSource(id, `${chunks.rest}/message:stream`, 'rest'),
                ]
              : [await wrkDriver(id, echo.jsonrpc, 'jsonrpc'), sseSource(id, chunks.jsonrpc, 'jsonrpc')];
        const idleRssMb = readRssMb(server.pid);
        console.log(`   echo semantics OK, idle RSS ${idleRssMb.toFixed(1)} MB`);
        const unary = await measureUnary(id, server.pid, drive, secs);
        const stream = await streams((once) => measureStreaming(id, server.pid, once));
        return {
          loadGenerator: transport === 'gRPC' ? grpcLoadGenerator() : 'wrk -t1',
          commands: [commandOf(spec)],
          idleRssMb,
          unary,
          stream,
        };
      });
    },
  };
}

function grpcLoadGenerator(): string {
  return `h2load -t1, ceil(in flight / ${IN_FLIGHT_PER_CONNECTION}) connections`;
}

function sdkContender(transport: 'JSON-RPC' | 'gRPC'): Contender {
  const id = transport === 'gRPC' ? 'sdk-grpc' : 'sdk-jsonrpc';
  const tsFile = transport === 'gRPC' ? SDK_GRPC_TS : SDK_JSONRPC_TS;
  const spec = (agent: 'echo' | 'chunks'): ServerSpec =>
    referenceSpec(`${id} (${agent})`, ROOT, tsFile, ['--agent', agent]);
  return {
    id,
    server: 'sdk-reference',
    transport,
    reference: id,
    run: async (secs) => {
      const echoSpec = spec('echo');
      const chunksSpec = spec('chunks');
      const text = httpRequestText('jsonrpc', wrkScriptBody(LUA.jsonrpc));
      const { unary, idleRssMb } = await withServer(echoSpec, async (server) => {
        const drive =
          transport === 'gRPC'
            ? await grpcDriver(id, `127.0.0.1:${server.port}`, '', text)
            : await wrkDriver(id, `http://127.0.0.1:${server.port}/`, 'jsonrpc');
        const rss = readRssMb(server.pid);
        console.log(`   echo semantics OK, idle RSS ${rss.toFixed(1)} MB`);
        return { unary: await measureUnary(id, server.pid, drive, secs), idleRssMb: rss };
      });
      const stream = await withServer(chunksSpec, (server) =>
        (transport === 'gRPC'
          ? grpcSource(`127.0.0.1:${server.port}`, '')
          : sseSource(id, `http://127.0.0.1:${server.port}/`, 'jsonrpc'))((once) =>
          measureStreaming(id, server.pid, once),
        ),
      );
      return {
        loadGenerator: transport === 'gRPC' ? grpcLoadGenerator() : 'wrk -t1',
        commands: [commandOf(echoSpec), commandOf(chunksSpec)],
        idleRssMb,
        unary,
        stream,
      };
    },
  };
}

function byId(results: ContenderResult[], id: ContenderId): ContenderResult {
  const r = results.find((x) => x.id === id);
  if (!r) throw new Error(`no result for ${id}`);
  return r;
}

function unaryAt(result: ContenderResult, inFlight: number): UnaryRun {
  const run = result.unary.find((r) => r.inFlight === inFlight);
  if (!run) throw new Error(`${result.id} has no unary run at ${inFlight} in flight`);
  return run;
}

function evaluateTargets(results: ContenderResult[]): TargetResult[] {
  const rps32 = (id: ContenderId): number => unaryAt(byId(results, id), 32).requestsPerSecond;
  const grpcRatio = rps32('agentd-grpc') / rps32('sdk-grpc');
  const httpRatio = rps32('agentd-jsonrpc') / rps32('sdk-jsonrpc');
  const httpP50 = unaryAt(byId(results, 'agentd-jsonrpc'), 1).latencyMs.p50;
  const targets: TargetResult[] = [
    {
      id: 'grpc-throughput-ratio-32',
      group: 'gRPC unary',
      description: `agentd gRPC req/s >= ${TARGET_GRPC_RATIO}x SDK gRPC reference at 32 in flight`,
      threshold: TARGET_GRPC_RATIO,
      actual: grpcRatio,
      pass: grpcRatio >= TARGET_GRPC_RATIO,
    },
    {
      id: 'http-throughput-ratio-32',
      group: 'HTTP unary',
      description: `agentd JSON-RPC req/s >= ${TARGET_HTTP_RATIO}x SDK JSON-RPC reference at 32 connections`,
      threshold: TARGET_HTTP_RATIO,
      actual: httpRatio,
      pass: httpRatio >= TARGET_HTTP_RATIO,
    },
    {
      id: 'http-p50-ms-1',
      group: 'HTTP unary',
      description: `agentd JSON-RPC p50 <= ${TARGET_HTTP_P50_MS} ms at 1 connection`,
      threshold: TARGET_HTTP_P50_MS,
      actual: httpP50,
      pass: httpP50 <= TARGET_HTTP_P50_MS,
    },
  ];
  for (const id of ['agentd-grpc', 'agentd-jsonrpc', 'agentd-rest'] as const) {
    const r = byId(results, id);
    targets.push({
      id: `${id}-events-per-second`,
      group: 'streaming',
      description: `agentd ${r.transport} streaming >= ${TARGET_EVENTS_PER_SECOND.toLocaleString('en-US')} events/s to one subscriber`,
      threshold: TARGET_EVENTS_PER_SECOND,
      actual: r.stream.eventsPerSecond,
      pass: r.stream.eventsPerSecond >= TARGET_EVENTS_PER_SECOND,
    });
  }
  return targets;
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Says how many measurements had to run while other work kept the machine busy. */
function quietNote(results: ContenderResult[]): string {
  const waits = results.flatMap((r) => [...r.unary.map((u) => u.quiet), r.stream.quiet]);
  const busy = waits.filter((w) => !w.quiet).length;
  return (
    `Each measurement first waited (at most ${QUIET.maxWaitMs / 1000} s) for ${QUIET.windowMs} ms in which the ` +
    `whole machine used at most ${QUIET.maxBusyPercent} % of a core; ` +
    (busy === 0
      ? `all ${waits.length} got one.`
      : `**${busy} of ${waits.length} ran on a busy machine** (see the "other" CPU column).`) +
    ' CPU columns are % of one core: the server, the load generator (wrk or grpc-js) and everything else.'
  );
}

function cpuShares(cpu: CpuShares): string {
  return [cpu.serverPercent, cpu.loadGenPercent, cpu.otherPercent].map((p) => p.toFixed(0)).join(' / ');
}

function ratio(value: number, reference: number | undefined): string {
  return reference === undefined ? '—' : `${(value / reference).toFixed(2)}×`;
}

function markdown(
  results: ContenderResult[],
  targets: TargetResult[],
  meta: { date: string; secs: number; wrk: string },
): string {
  const m = machineInfo();
  const ref = (r: ContenderResult): ContenderResult | undefined =>
    r.reference === undefined ? undefined : byId(results, r.reference);
  const label = (r: ContenderResult): string =>
    `${r.server === 'agentd' ? 'agentd' : 'SDK reference'} ${r.transport}`;
  const events = results[0]?.stream.events ?? 0;
  const lines = [
    '# Transports: agentd vs the SDK stock servers',
    '',
    `${meta.date} · ${m.cpus} cores (${m.cpuModel}) · Node ${m.node} · wrk ${meta.wrk}. ` +
      `Unary: ${meta.secs} s per run after a ${WARMUP_SECONDS} s warm-up at ${WARMUP_IN_FLIGHT} in flight; ` +
      `wrk -t1 for HTTP; h2load -t1 for both gRPC servers (the same pre-encoded SendMessage frame, ` +
      `ceil(in flight / ${IN_FLIGHT_PER_CONNECTION}) HTTP/2 connections; answers checked with a grpc-js call ` +
      `before and after each run, since h2load cannot read grpc-status). ` +
      `Streaming: medians of ${STREAM_RUNS} streams of \`chunks ${CHUNKS}\` (${fmt(events)} events) after ` +
      `${STREAM_WARMUPS} warm-ups. One server at a time; the load generator shares the machine.`,
    '',
    quietNote(results),
    '',
    '## Unary `SendMessage` (echo agent)',
    '',
    '| server | in flight | req/s | p50 ms | p99 ms | × SDK reference req/s | server CPU ms/req | CPU % server / load gen / other | idle RSS MB |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of results) {
    for (const run of r.unary) {
      const reference = ref(r);
      lines.push(
        `| ${label(r)} | ${run.inFlight} | ${fmt(run.requestsPerSecond)} | ${run.latencyMs.p50.toFixed(3)} | ` +
          `${run.latencyMs.p99.toFixed(3)} | ` +
          `${ratio(run.requestsPerSecond, reference && unaryAt(reference, run.inFlight).requestsPerSecond)} | ` +
          `${run.serverCpuMsPerRequest.toFixed(3)} | ${cpuShares(run.cpu)} | ${r.idleRssMb.toFixed(1)} |`,
      );
    }
  }
  lines.push(
    '',
    `## Streaming \`SendStreamingMessage\` (\`chunks ${CHUNKS}\`, one subscriber)`,
    '',
    '| server | first event ms | events/s | × SDK reference events/s | last event ms | server CPU ms/stream | CPU % server / load gen / other |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const r of results) {
    const s = r.stream;
    lines.push(
      `| ${label(r)} | ${s.firstEventMs.toFixed(2)} | ${fmt(s.eventsPerSecond)} | ` +
        `${ratio(s.eventsPerSecond, ref(r)?.stream.eventsPerSecond)} | ${s.totalMs.toFixed(2)} | ` +
        `${s.serverCpuMsPerStream.toFixed(1)} | ${cpuShares(s.cpu)} |`,
    );
  }
  lines.push(
    '',
    'events/s is counted from the first event to the last (one subscriber), so a server that holds every ' +
      'event back and then sends them in one burst scores high; "last event ms" (request sent to stream ' +
      'complete) is the end-to-end figure.',
    '',
    '## Against the figures commonly quoted for A2A transports',
    '',
    '| transport | quoted (latency, throughput) | agentd p50 ms, 1 in flight | agentd p99 ms, 32 in flight | agentd req/s, 32 in flight |',
    '| --- | --- | ---: | ---: | ---: |',
  );
  for (const r of results.filter((x) => x.server === 'agentd')) {
    const claim = r.transport === 'gRPC' ? SEED_CLAIMS.grpc : SEED_CLAIMS.http;
    lines.push(
      `| ${r.transport} | ~${claim.latencyMs} ms, ~${fmt(claim.requestsPerSecond)} req/s | ` +
        `${unaryAt(r, 1).latencyMs.p50.toFixed(3)} | ${unaryAt(r, 32).latencyMs.p99.toFixed(3)} | ` +
        `${fmt(unaryAt(r, 32).requestsPerSecond)} |`,
    );
  }
  lines.push(
    '',
    'Those figures come with no harness, machine or payload; they are shown as quoted.',
    'REST has no SDK reference here (—).',
    '',
    'Idle RSS here is with HTTP and gRPC both listening (the default); the core runtime’s ≤ 80 MB target is measured ' +
      'by `npm run bench`, where agentd serves HTTP only, like the JSON-RPC reference it is compared with.',
    '',
    '## Targets',
    '',
    '| target | actual | result |',
    '| --- | ---: | --- |',
  );
  for (const t of targets) {
    lines.push(
      `| ${t.group}: ${t.description} | ${fmt(t.actual, t.threshold < 10 ? 3 : 0)} | ${t.pass ? 'PASS' : '**FAIL**'} |`,
    );
  }
  lines.push('', ...efficiency(results).map((e) => `- ${e}`));
  return `${lines.join('\n')}\n`;
}

/**
 * Server CPU per request, SDK reference ÷ agentd, at 32 in flight: what the
 * req/s ratio would be if the servers, not the load generator or the shared
 * machine, were the limit.
 */
function efficiency(results: ContenderResult[]): string[] {
  return results
    .filter((r) => r.server === 'agentd' && r.reference !== undefined)
    .map((r) => {
      const run = unaryAt(r, 32);
      const ref = unaryAt(byId(results, r.reference as ContenderId), 32);
      return (
        `${r.transport}, 32 in flight: the SDK reference spends ` +
        `${(ref.serverCpuMsPerRequest / run.serverCpuMsPerRequest).toFixed(2)}× agentd's server CPU per request ` +
        `(${ref.serverCpuMsPerRequest.toFixed(3)} vs ${run.serverCpuMsPerRequest.toFixed(3)} ms); ` +
        `against agentd the server used ${run.cpu.serverPercent.toFixed(0)} % of a core and the load generator ` +
        `${run.cpu.loadGenPercent.toFixed(0)} %.`
      );
    });
}

function selected(all: Contender[]): Contender[] {
  const only = process.env.BENCH_ONLY?.trim();
  if (!only) return all;
  const ids = only.split(',').map((s) => s.trim());
  const unknown = ids.filter((id) => !all.some((c) => c.id === id));
  if (unknown.length > 0) {
    throw new Error(`BENCH_ONLY: unknown ${unknown.join(', ')} (known: ${all.map((c) => c.id).join(', ')})`);
  }
  return all.filter((c) => ids.includes(c.id));
}

async function main(): Promise<void> {
  const secs = durationSeconds(DEFAULT_DURATION_SECONDS);
  ensureWrk();
  ensureH2load();
  const configFile = writeAgentdConfig();
  const all = [
    agentdContender('JSON-RPC', configFile),
    agentdContender('REST', configFile),
    agentdContender('gRPC', configFile),
    sdkContender('JSON-RPC'),
    sdkContender('gRPC'),
  ];
  const contenders = selected(all);
  const started = Date.now();
  const results: ContenderResult[] = [];
  for (const c of contenders) {
    const { id, server, transport, reference } = c;
    results.push({ id, server, transport, reference, ...(await c.run(secs)) });
  }
  console.log(`\nmeasured in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (contenders.length !== all.length) {
    console.log('BENCH_ONLY is set: partial run, no results written.');
    return;
  }

  const targets = evaluateTargets(results);
  const date = new Date().toISOString();
  const wrk = wrkVersion();
  const report = {
    benchmark: 'transports',
    date,
    machine: { ...machineInfo(), wrk },
    config: {
      method: { unary: 'SendMessage', streaming: 'SendStreamingMessage' },
      durationSeconds: secs,
      warmup: { seconds: WARMUP_SECONDS, inFlight: WARMUP_IN_FLIGHT },
      inFlight: IN_FLIGHT,
      grpcInFlightPerConnection: IN_FLIGHT_PER_CONNECTION,
      grpcLoadGenerator: 'h2load (nghttp2-client)',
      streaming: { chunks: CHUNKS, warmups: STREAM_WARMUPS, runs: STREAM_RUNS, statistic: 'median' },
      cpuUnit: '% of one core (/proc); other = the rest of the machine',
      quietMachine: QUIET,
      rssUnit: 'MiB (VmRSS / 1024)',
      scripts: Object.values(LUA).map((f) => relative(ROOT, f)),
      agentdNodeArgs: process.env.BENCH_AGENTD_NODE_ARGS?.trim() || undefined,
    },
    seedClaims: SEED_CLAIMS,
    results,
    targets,
    diagnostics: efficiency(results),
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  await writeFormatted(join(RESULTS_DIR, 'transports.json'), JSON.stringify(report), 'json');
  const md = await writeFormatted(
    join(RESULTS_DIR, 'transports.md'),
    markdown(results, targets, { date, secs, wrk }),
    'markdown',
  );

  printOutcome(md, targets, `${relative(process.cwd(), RESULTS_DIR)}/transports.{json,md}`);
}

runBenchmark(main);
