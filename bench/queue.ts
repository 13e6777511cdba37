/**
 * Work queue benchmark: agentd's own Redis work queue (`RedisWorkQueue`, one Lua script
 * per operation) against BullMQ, in one run on one real redis-server (a free loopback
 * port, no persistence), so the project's "use BullMQ unless something measures clearly
 * better" rests on a figure.
 *
 * Measured, with `CONCURRENCY` (32, the connection count of the agentd HTTP bench) jobs
 * in flight and worker slots:
 * - hand-off, what agentd does when every local worker is busy: 32 clients each queue a
 *   job and wait for its completion before queuing the next. agentd: `push` on one queue
 *   instance (the accepting replica), a worker loop on a second instance that takes into
 *   free slots the way `TaskEngine.pump` does (on the `onWork` notification and when a
 *   slot frees while work waits), then `ack`. BullMQ: `Queue.add` (custom job id,
 *   removeOnComplete/removeOnFail) and a `Worker` with concurrency 32; a job is done at
 *   its `completed` event. Latency is from push/add to completion.
 * - drain, the worker side alone: WARMUP + JOBS jobs are queued first (32 adds in
 *   flight), then the same workers start and run them all.
 * - fast path, what agentd does when a local worker is free: `lease` + `ack`, no list.
 *   BullMQ has no equivalent (every job goes through the wait list to a worker).
 * The processors do nothing, so the figures are the queues' own cost. Payloads are
 * about 300 bytes of JSON, like agentd's queued SendMessageRequest. Every run starts on
 * a FLUSHALL'd Redis with fresh clients and warms up first; only one contender runs at
 * a time, in alternating order, and the run with the median jobs/s of `BENCH_REPEATS`
 * is reported, with the CPU that redis-server and this process used per job.
 *
 * Writes bench/results/queue.{json,md} and prints the markdown.
 *
 * Environment: `BENCH_JOBS` measured jobs per run (default 20000), `BENCH_REPEATS`
 * runs per measurement (default 3).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { WorkItem } from '../src/store/ports.js';
import { RedisKeys } from '../src/store/redis/redis-keys.js';
import { connectRedis } from '../src/store/redis/redis-state-store.js';
import { RedisWorkQueue } from '../src/store/redis/redis-work-queue.js';
import { startRedis } from '../test/helpers/redis-server.js';
import { machineInfo, positiveIntEnv, runBenchmark, writeFormatted } from './lib/report.js';
import { msSince, percentile } from './lib/stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS_DIR = join(ROOT, 'bench/results');
const JOBS = positiveIntEnv('BENCH_JOBS', 20_000);
const REPEATS = positiveIntEnv('BENCH_REPEATS', 3);
const WARMUP = Math.min(2_000, JOBS);
const CONCURRENCY = 32;
const AGENT = 'echo';
/** A run fails when no job completed for this long (a lost wake-up, a stuck worker). */
const STALL_MS = 15_000;

/** A queued request as agentd stores it (agent, SendMessageRequest without its message, extensions). */
function payload(taskId: string): object {
  return {
    agent: AGENT,
    request: {
      tenant: 'acme',
      configuration: {
        acceptedOutputModes: ['text/plain'],
        historyLength: 20,
        returnImmediately: false,
      },
      metadata: { traceparent: `00-${taskId.replace(/-/g, '')}-b7ad6b7169203331-01` },
    },
    extensions: ['https://a2a-protocol.org/extensions/timestamp/v1'],
  };
}
const PAYLOAD_BYTES = JSON.stringify(payload(randomUUID())).length;

/** A queue set up on a fresh Redis, with a producer and (once started) workers. */
interface Queued {
  /** Queues one job; it runs once the workers are started. */
  enqueue(id: string): Promise<void>;
  /** Starts the workers (processors that do nothing); `finished` is called as each job completes. */
  start(finished: (id: string, error?: unknown) => void): void;
  close(): Promise<void>;
}

/** Something that runs one job to completion per `job` call. */
interface Cycle {
  job(id: string): Promise<void>;
  close(): Promise<void>;
}

type MeasurementId =
  'agentd-handoff' | 'bullmq-handoff' | 'agentd-drain' | 'bullmq-drain' | 'agentd-fastpath';

interface Run {
  jobsPerSec: number;
  /** Latency from push/add to completion (none for a drain: there it is only time spent waiting). */
  p50Ms?: number;
  p99Ms?: number;
  redisCpuUsPerJob: number;
  nodeCpuUsPerJob: number;
  /** Keys left in Redis once every job completed. */
  keysAfter: number;
  /** Drain only: jobs/s of queuing the backlog (32 pushes/adds in flight). */
  enqueuePerSec?: number;
}

/** Jobs waiting for their completion, by id. */
class Completions {
  private readonly waiting = new Map<string, { resolve: () => void; reject: (e: unknown) => void }>();

  /** Registers `id`, then calls `start`; resolves when `done(id)` is called. */
  wait(id: string, start: () => Promise<unknown>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      start().catch((error: unknown) => this.done(id, error));
    });
  }

  done(id: string, error?: unknown): void {
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    if (error === undefined) w.resolve();
    else w.reject(error);
  }
}

/**
 * Runs queued work into `slots` slots the way `TaskEngine` does: a take for every free
 * slot at start and when `onWork` signals work, and again when a slot frees while work
 * is waiting (or was signalled during a take); a 2 s poll as the engine's safety net. A
 * taken job is parsed and acked, its slot freed as the ack is sent, and `finished`
 * called when the ack is done.
 */
function runWorkers(
  queue: RedisWorkQueue,
  slots: number,
  finished: (taskId: string, error?: unknown) => void,
): () => void {
  let active = 0;
  let pumping = false;
  let pumpAgain = false;
  let signaled = false;
  const run = (item: WorkItem): void => {
    JSON.parse(item.payload);
    queue.ack(item.taskId).then(
      () => finished(item.taskId),
      (error: unknown) => finished(item.taskId, error),
    );
    active--;
    if (signaled || queue.waiting > 0) pump();
  };
  const pump = (): void => {
    if (pumping) {
      pumpAgain = true;
      return;
    }
    const free = slots - active;
    if (free <= 0) return;
    pumping = true;
    signaled = false;
    active += free;
    queue
      .take([AGENT], free)
      .then(
        (items) => {
          active -= free - items.length;
          for (const item of items) run(item);
        },
        (error: unknown) => {
          active -= free;
          console.error(`take failed: ${String(error)}`);
        },
      )
      .finally(() => {
        pumping = false;
        if (pumpAgain) {
          pumpAgain = false;
          pump();
        }
      });
  };
  queue.onWork(() => {
    signaled = true;
    pump();
  });
  const poller = setInterval(pump, 2000);
  pump();
  return () => clearInterval(poller);
}

function agentdQueue(url: string): { redis: Redis; queue: RedisWorkQueue } {
  // The Redis store's own client settings.
  const redis = connectRedis(url);
  const queue = new RedisWorkQueue(redis, new RedisKeys('bench:'), {
    leaseMs: 30_000,
    recoverEveryMs: 5_000,
  });
  return { redis, queue };
}

async function closeAgentd(...parts: Array<{ redis: Redis; queue: RedisWorkQueue }>): Promise<void> {
  for (const { redis, queue } of parts) {
    queue.close();
    await redis.quit();
  }
}

/** agentd: `push` on one queue instance (the replica that accepted the task), workers on another. */
async function agentdQueued(url: string): Promise<Queued> {
  const producer = agentdQueue(url);
  const worker = agentdQueue(url);
  await Promise.all([producer.queue.ready(), worker.queue.ready()]);
  let stop = (): void => {};
  return {
    // The depth check (one LLEN) runs whatever the limit; a drain queues every job at once.
    enqueue: (id) => producer.queue.push(id, AGENT, JSON.stringify(payload(id)), Number.MAX_SAFE_INTEGER),
    start: (finished) => {
      stop = runWorkers(worker.queue, CONCURRENCY, finished);
    },
    close: async () => {
      stop();
      await closeAgentd(producer, worker);
    },
  };
}

/** BullMQ: a `Queue` and a `Worker` (concurrency 32), each with its own connections. */
async function bullmqQueued(url: string): Promise<Queued> {
  const { hostname, port } = new URL(url);
  const connection = { host: hostname, port: Number(port) };
  const queue = new Queue(AGENT, { connection });
  const worker = new Worker(AGENT, async () => {}, { connection, concurrency: CONCURRENCY, autorun: false });
  worker.on('error', (error) => console.error(`BullMQ worker: ${error.message}`));
  await Promise.all([queue.waitUntilReady(), worker.waitUntilReady()]);
  return {
    enqueue: async (id) => {
      await queue.add(AGENT, payload(id), { jobId: id, removeOnComplete: true, removeOnFail: true });
    },
    start: (finished) => {
      worker.on('completed', (job) => finished(job.id ?? ''));
      worker.on('failed', (job, error) => finished(job?.id ?? '', error));
      worker.run().catch((error: unknown) => console.error(`BullMQ worker: ${String(error)}`));
    },
    close: async () => {
      await worker.close();
      await queue.close();
    },
  };
}

/** Hand-off: each job is queued and waited for; the workers run from the start. */
async function handOff(setup: (url: string) => Promise<Queued>, url: string): Promise<Cycle> {
  const queued = await setup(url);
  const completions = new Completions();
  queued.start((id, error) => completions.done(id, error));
  return { job: (id) => completions.wait(id, () => queued.enqueue(id)), close: () => queued.close() };
}

/** agentd's fast path: the accepting replica leases the task to itself and acks it when done. */
async function fastPath(url: string): Promise<Cycle> {
  const replica = agentdQueue(url);
  await replica.queue.ready();
  return {
    job: async (id) => {
      await replica.queue.lease(id, AGENT, JSON.stringify(payload(id)));
      await replica.queue.ack(id);
    },
    close: () => closeAgentd(replica),
  };
}

/** Fails `work` when `progress()` has not moved for STALL_MS. */
async function watched<T>(work: Promise<T>, progress: () => number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    let last = -1;
    timer = setInterval(() => {
      const now = progress();
      if (now === last) reject(new Error(`no job completed for ${STALL_MS / 1000} s`));
      last = now;
    }, STALL_MS);
  });
  try {
    return await Promise.race([work, stalled]);
  } finally {
    clearInterval(timer);
  }
}

/**
 * Runs `total` jobs, CONCURRENCY at a time (each client starts its next job when its
 * last completed). Returns the latencies (ms, sorted) and the wall time in seconds.
 */
async function closedLoop(
  total: number,
  job: (id: string) => Promise<void>,
): Promise<{ latencies: Float64Array; seconds: number }> {
  const latencies = new Float64Array(total);
  let next = 0;
  let done = 0;
  const client = async (): Promise<void> => {
    for (let i = next++; i < total; i = next++) {
      const start = process.hrtime.bigint();
      await job(randomUUID());
      latencies[i] = msSince(start);
      done++;
    }
  };
  const started = process.hrtime.bigint();
  await watched(Promise.all(Array.from({ length: CONCURRENCY }, client)), () => done);
  const seconds = msSince(started) / 1000;
  return { latencies: latencies.sort(), seconds };
}

/** Fields of one `INFO <section>` reply, by name. */
async function info(redis: Redis, section: string): Promise<Map<string, string>> {
  const text = await redis.info(section);
  return new Map(
    text
      .split('\r\n')
      .filter((line) => line.includes(':'))
      .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)]),
  );
}

/** CPU seconds redis-server has used (user + system, all its threads). */
async function redisCpuSeconds(redis: Redis): Promise<number> {
  const cpu = await info(redis, 'cpu');
  return Number(cpu.get('used_cpu_user')) + Number(cpu.get('used_cpu_sys'));
}

/** CPU use from here on, of this process and of redis-server, in µs per job. */
async function cpuMeter(admin: Redis): Promise<() => Promise<{ redis: number; node: number }>> {
  const redisBefore = await redisCpuSeconds(admin);
  const nodeBefore = process.cpuUsage();
  return async () => {
    const node = process.cpuUsage(nodeBefore);
    const redis = (await redisCpuSeconds(admin)) - redisBefore;
    return { redis: (redis * 1e6) / JOBS, node: (node.user + node.system) / JOBS };
  };
}

/** Warms up with WARMUP jobs, then measures JOBS jobs each run to completion. */
async function measureCycle(cycle: Cycle, admin: Redis): Promise<Run> {
  await closedLoop(WARMUP, (id) => cycle.job(id));
  const cpu = await cpuMeter(admin);
  const { latencies, seconds } = await closedLoop(JOBS, (id) => cycle.job(id));
  const used = await cpu();
  return {
    jobsPerSec: JOBS / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    redisCpuUsPerJob: used.redis,
    nodeCpuUsPerJob: used.node,
    keysAfter: await admin.dbsize(),
  };
}

/**
 * Drain: WARMUP + JOBS jobs are queued first (CONCURRENCY adds in flight), then the
 * workers start; measured from the WARMUP-th completion to the last.
 */
async function measureDrain(queued: Queued, admin: Redis): Promise<Run> {
  const total = WARMUP + JOBS;
  const fill = await closedLoop(total, (id) => queued.enqueue(id));
  let done = 0;
  let started = process.hrtime.bigint();
  let cpu: Promise<() => Promise<{ redis: number; node: number }>> | undefined;
  const drained = new Promise<number>((resolve, reject) => {
    queued.start((_id, error) => {
      if (error !== undefined) reject(error instanceof Error ? error : new Error(String(error)));
      if (++done === WARMUP) {
        started = process.hrtime.bigint();
        cpu = cpuMeter(admin);
      }
      if (done === total) resolve(msSince(started) / 1000);
    });
  });
  const seconds = await watched(drained, () => done);
  const used = await (await (cpu as NonNullable<typeof cpu>))();
  return {
    jobsPerSec: JOBS / seconds,
    redisCpuUsPerJob: used.redis,
    nodeCpuUsPerJob: used.node,
    keysAfter: await admin.dbsize(),
    enqueuePerSec: total / fill.seconds,
  };
}

interface Measurement {
  id: MeasurementId;
  run(url: string, admin: Redis): Promise<Run>;
}

/** Measures on a FLUSHALL'd Redis: sets the contender up, measures it, closes it. */
function measurement<C extends { close(): Promise<void> }>(
  id: MeasurementId,
  setup: (url: string) => Promise<C>,
  measure: (contender: C, admin: Redis) => Promise<Run>,
): Measurement {
  return {
    id,
    run: async (url, admin) => {
      await admin.flushall();
      const contender = await setup(url);
      try {
        return await measure(contender, admin);
      } finally {
        await contender.close();
      }
    },
  };
}

const MEASUREMENTS = {
  agentdHandOff: measurement('agentd-handoff', (url) => handOff(agentdQueued, url), measureCycle),
  bullmqHandOff: measurement('bullmq-handoff', (url) => handOff(bullmqQueued, url), measureCycle),
  agentdDrain: measurement('agentd-drain', agentdQueued, measureDrain),
  bullmqDrain: measurement('bullmq-drain', bullmqQueued, measureDrain),
  agentdFastPath: measurement('agentd-fastpath', fastPath, measureCycle),
};

/** The run with the median jobs/s (the lower middle one for an even count). */
function medianRun(runs: readonly Run[]): Run {
  const sorted = [...runs].sort((a, b) => a.jobsPerSec - b.jobsPerSec);
  return sorted[(sorted.length - 1) >> 1] as Run;
}

const num = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

type Medians = Record<MeasurementId, Run>;

const ms = (n: number | undefined): string => (n === undefined ? '–' : num(n, 2));

function row(label: string, queue: string, runs: readonly Run[]): string {
  const m = medianRun(runs);
  const each = runs.map((r) => num(r.jobsPerSec)).join(' / ');
  const [p50, p99] = [ms(m.p50Ms), ms(m.p99Ms)];
  return `| ${label} | ${queue} | **${num(m.jobsPerSec)}** | ${each} | ${p50} | ${p99} | ${num(m.redisCpuUsPerJob)} | ${num(m.nodeCpuUsPerJob)} |`;
}

/** a ÷ b, or '' when either is missing. */
const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined ? '' : `×${(a / b).toFixed(2)}`;

function ratioRow(label: string, a: Run, b: Run): string {
  const [p50, p99] = [ratio(a.p50Ms, b.p50Ms), ratio(a.p99Ms, b.p99Ms)];
  return `| ${label} | agentd ÷ BullMQ | **${ratio(a.jobsPerSec, b.jobsPerSec)}** | | ${p50} | ${p99} | ${ratio(a.redisCpuUsPerJob, b.redisCpuUsPerJob)} | ${ratio(a.nodeCpuUsPerJob, b.nodeCpuUsPerJob)} |`;
}

/** "agentd's queue did 2.1× BullMQ's jobs/s" or the other way round. */
function faster(a: Run, b: Run): string {
  const r = a.jobsPerSec / b.jobsPerSec;
  return r >= 1
    ? `agentd's queue completed ${r.toFixed(2)}× BullMQ's jobs/s`
    : `BullMQ completed ${(1 / r).toFixed(2)}× agentd's jobs/s`;
}

interface Meta {
  date: string;
  redisVersion: string;
  bullmqVersion: string;
  loadBefore: number;
  loadAfter: number;
}

function report(runs: Record<MeasurementId, Run[]>, med: Medians, meta: Meta): string {
  const m = machineInfo();
  const a = med['agentd-handoff'];
  const b = med['bullmq-handoff'];
  const fast = med['agentd-fastpath'];
  return [
    "# Work queue: agentd's `RedisWorkQueue` vs BullMQ",
    '',
    `${meta.date} · ${m.cpus} cores (${m.cpuModel}) · Node ${m.node} · redis-server ${meta.redisVersion} · BullMQ ${meta.bullmqVersion} · ` +
      `${num(JOBS)} jobs per run after ${num(WARMUP)} warm-up · ${CONCURRENCY} in flight · ${PAYLOAD_BYTES}-byte JSON payload · ` +
      `median of ${REPEATS} runs · load average ${meta.loadBefore.toFixed(2)} before, ${meta.loadAfter.toFixed(2)} after`,
    '',
    '| path | queue | jobs/s | jobs/s of each run | p50 ms | p99 ms | Redis CPU µs/job | Node CPU µs/job |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    row('hand-off: push → take → ack', 'agentd', runs['agentd-handoff']),
    row('hand-off: add → Worker → completed', 'BullMQ', runs['bullmq-handoff']),
    ratioRow('hand-off', a, b),
    row('drain a backlog: take → ack', 'agentd', runs['agentd-drain']),
    row('drain a backlog: Worker → completed', 'BullMQ', runs['bullmq-drain']),
    ratioRow('drain', med['agentd-drain'], med['bullmq-drain']),
    row('fast path: lease + ack (BullMQ has none)', 'agentd', runs['agentd-fastpath']),
    '',
    `**Hand-off** is a job going through the queue to a worker, as in agentd when every local worker is busy: ` +
      `${CONCURRENCY} clients each add a job and wait for it to complete, and one worker process with ${CONCURRENCY} ` +
      `slots runs it (the processor does nothing); latency is from push/add to completion. ${faster(a, b)}, at ` +
      `${ratio(a.p50Ms, b.p50Ms).slice(1)}× the median latency and ${ratio(a.redisCpuUsPerJob, b.redisCpuUsPerJob).slice(1)}× ` +
      `the Redis CPU per job (Redis is what every replica shares). **Drain** is the worker side alone: ` +
      `${num(WARMUP + JOBS)} jobs are queued first, then the workers start; there ` +
      `${faster(med['agentd-drain'], med['bullmq-drain'])}. **Fast path** is what agentd does when a local worker is ` +
      `free: the task is leased to this replica and never waits in a list (${num(fast.jobsPerSec)} jobs/s, p50 ` +
      `${ms(fast.p50Ms)} ms); BullMQ has no equivalent, every job goes through its wait list to a worker. ` +
      'Both clients and redis-server share this machine, so jobs/s also depends on what else runs on it; the CPU ' +
      'columns depend less on it.',
    '',
    "BullMQ does much that agentd's queue does not need: retries with backoff, delayed and prioritised jobs, rate " +
      'limiting, repeatable jobs, flows (parent/child jobs) and a job event stream (every state change is also ' +
      "written to a Redis stream). agentd's queue does what matters here: a replica renews the leases of the tasks " +
      "it runs and takes over a dead replica's tasks once their lease lapses (re-run with an attempt count, " +
      'checkpoints skipping finished steps), keeps a queue per agent (a replica only takes work for the agents it ' +
      'hosts, and a full queue refuses with QUEUE_FULL), and runs each operation as one Lua script.',
  ].join('\n');
}

function bullmqVersion(): string {
  const require = createRequire(import.meta.url);
  const pkgFile = join(dirname(require.resolve('bullmq')), '..', '..', 'package.json');
  return (JSON.parse(readFileSync(pkgFile, 'utf8')) as { version: string }).version;
}

async function main(): Promise<void> {
  const loadBefore = os.loadavg()[0] ?? 0;
  const redis = await startRedis();
  const admin = new Redis(redis.url);
  try {
    const runs: Record<MeasurementId, Run[]> = {
      'agentd-handoff': [],
      'bullmq-handoff': [],
      'agentd-drain': [],
      'bullmq-drain': [],
      'agentd-fastpath': [],
    };
    const m = MEASUREMENTS;
    for (let r = 0; r < REPEATS; r++) {
      // Alternate which contender goes first, so a drift in the machine's load hits both alike.
      const order =
        r % 2 === 0
          ? [m.agentdHandOff, m.bullmqHandOff, m.agentdDrain, m.bullmqDrain, m.agentdFastPath]
          : [m.bullmqHandOff, m.agentdHandOff, m.bullmqDrain, m.agentdDrain, m.agentdFastPath];
      for (const measurement of order) {
        const run = await measurement.run(redis.url, admin);
        runs[measurement.id].push(run);
        console.log(
          `run ${r + 1}/${REPEATS} ${measurement.id}: ${num(run.jobsPerSec)} jobs/s` +
            (run.p50Ms === undefined ? '' : `, p50 ${ms(run.p50Ms)} ms, p99 ${ms(run.p99Ms)} ms`) +
            `, Redis ${num(run.redisCpuUsPerJob)} µs/job, Node ${num(run.nodeCpuUsPerJob)} µs/job`,
        );
      }
    }
    const med = Object.fromEntries(
      Object.entries(runs).map(([id, list]) => [id, medianRun(list)]),
    ) as Medians;
    const meta: Meta = {
      date: new Date().toISOString(),
      redisVersion: (await info(admin, 'server')).get('redis_version') ?? 'unknown',
      bullmqVersion: bullmqVersion(),
      loadBefore,
      loadAfter: os.loadavg()[0] ?? 0,
    };
    mkdirSync(RESULTS_DIR, { recursive: true });
    await writeFormatted(
      join(RESULTS_DIR, 'queue.json'),
      JSON.stringify({
        benchmark: 'queue',
        ...meta,
        machine: machineInfo(),
        jobs: JOBS,
        warmup: WARMUP,
        concurrency: CONCURRENCY,
        payloadBytes: PAYLOAD_BYTES,
        repeats: REPEATS,
        median: med,
        runs,
      }),
      'json',
    );
    const out = await writeFormatted(join(RESULTS_DIR, 'queue.md'), report(runs, med, meta), 'markdown');
    console.log(`\n${out}\nResults written to ${relative(process.cwd(), RESULTS_DIR)}/queue.{json,md}`);
  } finally {
    await admin.quit().catch(() => {});
    await redis.stop();
  }
}

runBenchmark(main);
