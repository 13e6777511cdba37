/**
 * What a workflow step costs. Side by side in one run, every request sequential (latency, not
 * throughput), blocking JSON-RPC SendMessage over one keep-alive connection per server:
 *
 * - local: one agentd process hosting `echo` and workflows `seq10` (10 sequential steps to
 *   `echo`, run in process by the engine) and `seq1` (1 step: the fixed cost of a workflow
 *   task). The client sends a message to `seq10`, the same 10 calls to `echo` itself, and a
 *   message to `seq1`; per local step = (seq10 − seq1) / 9, per iteration.
 * - remote: process B hosts `echo` (HTTP and gRPC); process A hosts workflows of 10 and 1
 *   steps to B's echo URL over JSON-RPC and over gRPC (`transport: grpc`). The client sends to
 *   A's workflows and, as the reference, 10 calls directly to B's echo.
 *
 * Each iteration sends every request once, in an order that rotates from one iteration to the
 * next, so all share the machine's conditions; each round starts fresh processes. Every answer
 * is checked to be the completed task echoing the input. A remote workflow this build cannot
 * run (its configuration is refused, or its first answer is a failed task) is reported as
 * unavailable, with the reason, instead of stopping the run.
 *
 * Writes bench/results/workflows.{json,md}. `BENCH_ITERATIONS` (default 2000) sets the
 * iterations per round, `BENCH_ROUNDS` (default 3) the rounds, `BENCH_WARMUP` (default 200)
 * the warm-up iterations of each round, `BENCH_AGENTD_NODE_ARGS` extra node arguments for every
 * agentd process, split on whitespace (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 */
import { mkdirSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SendMessageRequest, TaskState } from '@a2a-js/sdk';
import { decodeSendResponse, echoProblem, userMessage } from './lib/a2a.js';
import { KeepAlivePost } from './lib/keep-alive-post.js';
import { freePort, startServer, type RunningServer } from './lib/proc.js';
import { machineInfo, positiveIntEnv, printOutcome, runBenchmark, writeFormatted } from './lib/report.js';
import type { TargetResult } from './lib/report.js';
import { agentdSpec } from './lib/servers.js';
import { chainWorkflow, writeAgentdConfig, type StepTransport } from './lib/workflow-configs.js';
import { figure, workflowsMarkdown, type Figure } from './lib/workflow-report.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS_DIR = join(ROOT, 'bench/results');
const ITERATIONS = positiveIntEnv('BENCH_ITERATIONS', 2000);
const ROUNDS = positiveIntEnv('BENCH_ROUNDS', 3);
const WARMUP = positiveIntEnv('BENCH_WARMUP', 200);
const STEPS = 10;
const TARGET_LOCAL_STEP_MS = 0.5;
const TRANSPORTS: readonly StepTransport[] = ['jsonrpc', 'grpc'];

/** One request (or block of `calls` sequential requests) the client times as one sample. */
interface Case {
  readonly id: string;
  readonly conn: KeepAlivePost;
  readonly path: string;
  readonly calls: number;
}

/** One case's samples in one round: the whole block, and each call of it. */
interface Samples {
  readonly totals: number[];
  readonly perCall: number[];
}

/** A round: each available case's samples, and why the others were not measured. */
interface Round {
  readonly samples: Map<string, Samples>;
  readonly unavailable: Map<string, string>;
}

const remoteId = (steps: number, t: StepTransport): string => `remote${steps}-${t}`;

function body(text: string): string {
  const params = SendMessageRequest.toJSON({
    tenant: '',
    message: userMessage(text, randomUUID()),
    configuration: undefined,
    metadata: undefined,
  });
  return JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'SendMessage', params });
}

/** Why an answer is not the completed task echoing `text`, if it is not (a failed task's own message first). */
function answerProblem(status: number, raw: string, text: string): string | undefined {
  if (status !== 200) return `HTTP ${status}: ${raw.slice(0, 500)}`;
  try {
    const res = decodeSendResponse('jsonrpc', raw);
    if (res.payload?.$case === 'task') {
      const s = res.payload.value.status;
      const part = s?.message?.parts[0]?.content;
      if (s && s.state !== TaskState.TASK_STATE_COMPLETED)
        return `task ${TaskState[s.state]}${part?.$case === 'text' ? `: ${part.value}` : ''}`;
    }
    return echoProblem(res, text);
  } catch (error) {
    return (error as Error).message;
  }
}

/** Sends a case's request(s) once; resolves with the block's and each call's ms; throws on a wrong answer. */
async function runCase(c: Case, text: string): Promise<{ total: number; perCall: number[] }> {
  const bodies = Array.from({ length: c.calls }, () => body(text));
  const answers: Array<{ status: number; body: string }> = [];
  const perCall: number[] = [];
  const t0 = performance.now();
  let last = t0;
  for (const b of bodies) {
    answers.push(await c.conn.post(c.path, b));
    const now = performance.now();
    perCall.push(now - last);
    last = now;
  }
  const total = last - t0;
  for (const a of answers) {
    const problem = answerProblem(a.status, a.body, text);
    if (problem) throw new Error(problem);
  }
  return { total, perCall };
}

/**
 * The validation errors in a start failure's output when agentd refused its configuration,
 * each message once with the first field it was found at (a chain repeats it per step).
 */
function configRejection(message: string): string | undefined {
  if (!message.includes('Invalid configuration')) return undefined;
  const fields = new Map<string, string[]>();
  for (const line of message.split('\n')) {
    const issue = /^\s*- ([^:]+): (.*)$/.exec(line);
    if (issue)
      fields.set(issue[2] as string, [...(fields.get(issue[2] as string) ?? []), issue[1] as string]);
  }
  const issues = [...fields].map(
    ([text, at]) => `${at[0]}: ${text}${at.length > 1 ? ` (and ${at.length - 1} more fields)` : ''}`,
  );
  return `configuration refused: ${issues.join('; ') || 'see the server output'}`;
}

async function startAgentd(name: string, config: string, args: string[] = []): Promise<RunningServer> {
  const nodeArgs = process.env.BENCH_AGENTD_NODE_ARGS?.trim().split(/\s+/).filter(Boolean);
  return startServer(
    agentdSpec({ name, root: ROOT, config, port: await freePort(), args, ...(nodeArgs ? { nodeArgs } : {}) }),
  );
}

/**
 * Process A, calling B's echo at `echoUrl`: with the workflows of every transport, or, when
 * agentd refuses a transport's workflows, without them (`refused`: transport → reason).
 */
async function startCaller(
  echoUrl: string,
): Promise<{ server: RunningServer; refused: Map<string, string> }> {
  const refused = new Map<string, string>();
  const workflows = (transports: readonly StepTransport[]): Record<string, unknown>[] =>
    transports.flatMap((t) =>
      [STEPS, 1].map((n) => chainWorkflow(remoteId(n, t), n, { url: echoUrl, transport: t })),
    );
  try {
    return { server: await startAgentd('A', writeAgentdConfig('A', 'http', workflows(TRANSPORTS))), refused };
  } catch (error) {
    const reason = configRejection((error as Error).message);
    if (!reason) throw error;
    // Which transports' workflows are refused: try each on its own.
    for (const t of TRANSPORTS) {
      try {
        const server = await startAgentd(`A-${t}`, writeAgentdConfig(`A-${t}`, 'http', workflows([t])));
        await server.stop();
      } catch (e) {
        refused.set(t, configRejection((e as Error).message) ?? reason);
      }
    }
    const accepted = TRANSPORTS.filter((t) => !refused.has(t));
    return { server: await startAgentd('A', writeAgentdConfig('A', 'http', workflows(accepted))), refused };
  }
}

async function round(index: number): Promise<Round> {
  const servers: RunningServer[] = [];
  const conns: KeepAlivePost[] = [];
  const connect = (s: RunningServer): KeepAlivePost => {
    const c = new KeepAlivePost(s.port);
    conns.push(c);
    return c;
  };
  try {
    const echo = [{ name: 'echo', kind: 'echo' }];
    const local = await startAgentd(
      'local',
      writeAgentdConfig('local', 'http', [
        ...echo,
        chainWorkflow(`seq${STEPS}`, STEPS, { agent: 'echo' }),
        chainWorkflow('seq1', 1, { agent: 'echo' }),
      ]),
    );
    servers.push(local);
    // B first: A's configuration names B's echo URL.
    const b = await startAgentd('B', writeAgentdConfig('B', 'both', echo), [
      '--transport',
      'both',
      '--grpc-port',
      String(await freePort()),
    ]);
    servers.push(b);
    const { server: a, refused } = await startCaller(`http://127.0.0.1:${b.port}/a2a/echo/`);
    servers.push(a);
    const [l, toA, toB] = [connect(local), connect(a), connect(b)];
    const unavailable = new Map<string, string>();
    const cases: Case[] = [
      { id: `seq${STEPS}`, conn: l, path: `/a2a/seq${STEPS}/`, calls: 1 },
      { id: `client${STEPS}`, conn: l, path: '/a2a/echo/', calls: STEPS },
      { id: 'seq1', conn: l, path: '/a2a/seq1/', calls: 1 },
      { id: `direct${STEPS}`, conn: toB, path: '/a2a/echo/', calls: STEPS },
    ];
    for (const t of TRANSPORTS) {
      for (const n of [STEPS, 1]) {
        const id = remoteId(n, t);
        const why = refused.get(t);
        if (why) unavailable.set(id, why);
        else cases.push({ id, conn: toA, path: `/a2a/${id}/`, calls: 1 });
      }
    }
    // The first answer of each case decides whether it runs; only a remote workflow may fail here.
    for (const c of [...cases]) {
      try {
        await runCase(c, 'check');
      } catch (error) {
        if (!c.id.startsWith('remote')) throw new Error(`${c.id}: ${(error as Error).message}`);
        unavailable.set(c.id, (error as Error).message);
        cases.splice(cases.indexOf(c), 1);
      }
    }
    const samples = new Map<string, Samples>(cases.map((c) => [c.id, { totals: [], perCall: [] }]));
    console.log(
      `\n# round ${index} of ${ROUNDS}: ${WARMUP} warm-up + ${ITERATIONS} iterations of ` +
        cases.map((c) => c.id).join(', '),
    );
    for (const [id, why] of unavailable) console.log(`  ${id} unavailable: ${why}`);
    for (let i = 0; i < WARMUP + ITERATIONS; i++) {
      for (let k = 0; k < cases.length; k++) {
        const c = cases[(i + k) % cases.length] as Case;
        let sample: { total: number; perCall: number[] };
        try {
          sample = await runCase(c, `r${index} i${i}`);
        } catch (error) {
          throw new Error(`${c.id}, iteration ${i}: ${(error as Error).message}`);
        }
        if (i < WARMUP) continue;
        const s = samples.get(c.id) as Samples;
        s.totals.push(sample.total);
        s.perCall.push(...sample.perCall);
      }
    }
    return { samples, unavailable };
  } finally {
    for (const c of conns) c.close();
    for (const s of servers.reverse()) await s.stop();
  }
}

/** A figure from the rounds, computed per iteration by `f` from the cases it names. */
function derived(
  rounds: readonly Round[],
  id: string,
  label: string,
  uses: readonly string[],
  f: (get: (caseId: string) => Samples) => number[],
): Figure {
  const why = uses.map((u) => rounds.find((r) => r.unavailable.has(u))?.unavailable.get(u)).find(Boolean);
  const perRound = rounds.map((r) =>
    uses.every((u) => r.samples.has(u)) ? f((u) => r.samples.get(u) as Samples) : undefined,
  );
  return figure(id, label, perRound, why);
}

const each = (a: readonly number[], b: readonly number[], g: (x: number, y: number) => number): number[] =>
  a.map((x, i) => g(x, b[i] as number));

const TRANSPORT_LABEL: Record<StepTransport, string> = { jsonrpc: 'JSON-RPC', grpc: 'gRPC' };

async function main(): Promise<void> {
  const rounds: Round[] = [];
  for (let r = 1; r <= ROUNDS; r++) rounds.push(await round(r));

  const total = (id: string) => (get: (c: string) => Samples) => get(id).totals;
  const request = (id: string, label: string): Figure => derived(rounds, id, label, [id], total(id));
  const requests: Figure[] = [
    request(`seq${STEPS}`, `\`seq${STEPS}\`: workflow of ${STEPS} local steps to \`echo\``),
    request(`client${STEPS}`, `${STEPS} sequential client calls to \`echo\` (same process)`),
    request('seq1', '`seq1`: workflow of 1 local step'),
    ...TRANSPORTS.flatMap((t) => [
      request(remoteId(STEPS, t), `on A: workflow of ${STEPS} steps to B's echo over ${TRANSPORT_LABEL[t]}`),
      request(remoteId(1, t), `on A: workflow of 1 step to B's echo over ${TRANSPORT_LABEL[t]}`),
    ]),
    request(`direct${STEPS}`, `${STEPS} sequential client calls to B's echo (JSON-RPC)`),
  ];
  const marginal = (ten: string, one: string) => (get: (c: string) => Samples) =>
    each(get(ten).totals, get(one).totals, (x, y) => (x - y) / (STEPS - 1));
  const spread = (id: string) => (get: (c: string) => Samples) => get(id).totals.map((x) => x / STEPS);
  const perStep: Figure[] = [
    derived(
      rounds,
      'local-step',
      `**per local step**: (\`seq${STEPS}\` − \`seq1\`) ÷ ${STEPS - 1}`,
      [`seq${STEPS}`, 'seq1'],
      marginal(`seq${STEPS}`, 'seq1'),
    ),
    derived(rounds, 'local-seq-spread', `\`seq${STEPS}\` ÷ ${STEPS}`, [`seq${STEPS}`], spread(`seq${STEPS}`)),
    derived(
      rounds,
      'local-client-call',
      'one client call to `echo` (same process)',
      [`client${STEPS}`],
      (get) => get(`client${STEPS}`).perCall,
    ),
    ...TRANSPORTS.flatMap((t) => [
      derived(
        rounds,
        `remote-${t}-spread`,
        `remote step over ${TRANSPORT_LABEL[t]}: workflow of ${STEPS} ÷ ${STEPS}`,
        [remoteId(STEPS, t)],
        spread(remoteId(STEPS, t)),
      ),
      derived(
        rounds,
        `remote-${t}-step`,
        `remote step over ${TRANSPORT_LABEL[t]}, fixed cost removed: (${STEPS} steps − 1 step) ÷ ${STEPS - 1}`,
        [remoteId(STEPS, t), remoteId(1, t)],
        marginal(remoteId(STEPS, t), remoteId(1, t)),
      ),
    ]),
    derived(
      rounds,
      'direct-call',
      "one client call to B's echo (JSON-RPC), the reference",
      [`direct${STEPS}`],
      (get) => get(`direct${STEPS}`).perCall,
    ),
    derived(
      rounds,
      'direct-spread',
      `${STEPS} client calls to B's echo ÷ ${STEPS}`,
      [`direct${STEPS}`],
      spread(`direct${STEPS}`),
    ),
  ];
  const seq = requests[0];
  const client = requests[1];
  const ratio =
    seq && client && 'stats' in seq && 'stats' in client
      ? { p50: seq.stats.p50 / client.stats.p50, mean: seq.stats.mean / client.stats.mean }
      : undefined;
  const step = perStep[0];
  if (!step || !('stats' in step)) throw new Error('no per-step figure');
  const targets: TargetResult[] = [
    {
      id: 'local-step-p50-ms',
      description: `per local step p50 <= ${TARGET_LOCAL_STEP_MS} ms`,
      threshold: TARGET_LOCAL_STEP_MS,
      actual: step.stats.p50,
      pass: step.stats.p50 <= TARGET_LOCAL_STEP_MS,
    },
  ];
  const date = new Date().toISOString();
  const meta = { date, iterations: ITERATIONS, rounds: ROUNDS, warmup: WARMUP, steps: STEPS };
  mkdirSync(RESULTS_DIR, { recursive: true });
  await writeFormatted(
    join(RESULTS_DIR, 'workflows.json'),
    JSON.stringify({
      benchmark: 'workflows',
      date,
      machine: machineInfo(),
      config: {
        iterations: ITERATIONS,
        rounds: ROUNDS,
        warmup: WARMUP,
        steps: STEPS,
        unit: 'ms',
        agentdNodeArgs: process.env.BENCH_AGENTD_NODE_ARGS?.trim() || undefined,
      },
      requests,
      perStep,
      ratioSeqToClientCalls: ratio,
      targets,
    }),
    'json',
  );
  const md = await writeFormatted(
    join(RESULTS_DIR, 'workflows.md'),
    workflowsMarkdown(requests, perStep, ratio, targets, meta),
    'markdown',
  );
  printOutcome(md, targets, `${relative(process.cwd(), RESULTS_DIR)}/workflows.{json,md}`);
}

runBenchmark(main);
