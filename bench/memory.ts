/**
 * agentd's resident memory (RSS of the server process, from /proc) under the loads that
 * used to grow it without bound, each phase measured in the same run:
 *
 * 1. idle, after start-up;
 * 2. 2,000 long streams open at once (SendStreamingMessage to a countdown agent that
 *    publishes one chunk a second for a minute), sampled every second while they run;
 * 3. hostile load: malformed and oversized requests, deep values, and large tasks that
 *    fill the retention (20,000 requests by default), then RSS once it is done;
 * 4. after everything ended, with the finished tasks still retained.
 *
 * The server runs with the embedded store and the default limits (`limits`,
 * `store.retention.maxTerminalBytes`). `BENCH_STREAMS` and `BENCH_HOSTILE` change the
 * sizes. Writes bench/results/memory.{json,md}.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, readRssMb, startServer } from './lib/proc.js';
import { machineInfo, positiveIntEnv, runBenchmark, writeFormatted } from './lib/report.js';
import { agentdSpec } from './lib/servers.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS_DIR = join(ROOT, 'bench/results');
const STREAMS = positiveIntEnv('BENCH_STREAMS', 2000);
const HOSTILE = positiveIntEnv('BENCH_HOSTILE', 20_000);
const STREAM_SECONDS = 60;
/** `BENCH_HEAP_MB`: run the server with `--max-old-space-size` (a container's memory limit does the same). */
const HEAP_MB = process.env.BENCH_HEAP_MB ? positiveIntEnv('BENCH_HEAP_MB', 0) : undefined;

const CONFIG = `
server: { transport: http, shutdownDelayMs: 0 }
prometheus: { port: METRICS_PORT }
execution: { maxConcurrentWorkflows: ${STREAMS + 100}, maxQueueDepth: 10000 }
agents:
  - { name: echo, kind: echo, default: true }
  - { name: countdown, kind: countdown, stepMs: 1000, maxCount: 1000 }
`;

let nextId = 1;
function rpc(method: string, params: unknown): string {
  return JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params });
}
function message(text: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { messageId: `m-${nextId++}-${Math.random()}`, role: 'ROLE_USER', parts: [{ text }], ...extra };
}

/** POSTs a body and reads the answer to its end; resolves with the status (0 when the connection failed). */
function post(
  agent: Agent,
  url: string,
  body: string | Buffer,
  contentType = 'application/json',
  method = 'POST',
): Promise<number> {
  return new Promise((done) => {
    const req = request(url, { method, agent, headers: { 'content-type': contentType } }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
      res.on('error', () => done(0));
    });
    req.on('error', () => done(0));
    req.end(body);
  });
}

/** Opens a stream and reads it until the server ends it; resolves with the number of SSE events. */
function stream(agent: Agent, url: string, body: string, opened: () => void): Promise<number> {
  return new Promise((done) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
      (res) => {
        opened();
        let events = 0;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (events += chunk.split('\n\n').length - 1));
        res.on('end', () => done(events));
        res.on('error', () => done(events));
      },
    );
    req.on('error', () => done(-1));
    req.end(body);
  });
}

function nested(depth: number): string {
  return `${'{"n":'.repeat(depth)}{}${'}'.repeat(depth)}`;
}

/** The hostile mix, one request at a time by index: cheap to generate, bounded in size. */
function hostile(
  i: number,
  url: string,
): { url: string; body: string | Buffer; type?: string; method?: string } {
  const rpcUrl = `${url}/a2a/echo/`;
  switch (i % 10) {
    case 0:
      return { url: rpcUrl, body: '{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{"message":' };
    case 1:
      return {
        url: rpcUrl,
        body: rpc(['constructor', '__proto__', 'toString', 'valueOf'][i % 4] as string, {}),
      };
    case 2:
      return {
        url: rpcUrl,
        body: rpc('SendMessage', { message: message('x', { metadata: '@' }) }).replace('"@"', nested(5000)),
      };
    case 3:
      return { url: rpcUrl, body: rpc('GetTask', { id: 'x'.repeat(100_000) }) };
    case 4:
      // A large task (1 MiB of text, echoed): retained until the byte budget evicts it.
      return { url: rpcUrl, body: rpc('SendMessage', { message: message('y'.repeat(1024 * 1024)) }) };
    case 5:
      return { url: rpcUrl, body: Buffer.from([0xff, 0xfe, 0x00, 0x01]), type: 'application/octet-stream' };
    case 6:
      return { url: `${url}/a2a/echo/rest/tasks?pageSize=1&pageSize=2`, body: '', method: 'GET' };
    case 7:
      return {
        url: rpcUrl,
        body: JSON.stringify(
          Array.from({ length: 50 }, () => ({ jsonrpc: '2.0', id: 1, method: 'GetTask' })),
        ),
      };
    case 8:
      return {
        url: rpcUrl,
        body: rpc('SendMessage', { message: { role: 'ROLE_USER', parts: 'not an array' } }),
      };
    default:
      return { url: rpcUrl, body: rpc('SendMessage', { message: message(`hello ${i}`) }) };
  }
}

interface Phase {
  readonly phase: string;
  readonly rssMb: number;
  /** V8 heap in use (`nodejs_heap_size_used_bytes`), MB: live objects plus garbage not yet collected. */
  readonly heapMb: number;
  readonly note: string;
}

/** `nodejs_heap_size_used_bytes` from the server's /metrics, in MB. */
async function heapUsedMb(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const value = /^nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1];
  return value ? Number(value) / 1024 / 1024 : Number.NaN;
}

async function main(): Promise<void> {
  const dir = join(tmpdir(), `agentd-bench-memory-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'memory.yaml');
  const metricsPort = await freePort();
  writeFileSync(config, CONFIG.replace('METRICS_PORT', String(metricsPort)));
  const port = await freePort();
  const server = await startServer(
    agentdSpec({
      name: 'agentd',
      root: ROOT,
      config,
      port,
      ...(HEAP_MB ? { nodeArgs: [`--max-old-space-size=${HEAP_MB}`] } : {}),
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const phases: Phase[] = [];
  try {
    await new Promise((r) => setTimeout(r, 2000));
    const idle = readRssMb(server.pid);
    phases.push({
      phase: 'idle',
      rssMb: idle,
      heapMb: await heapUsedMb(metricsPort),
      note: 'after start-up',
    });
    console.log(`idle: ${idle.toFixed(1)} MB`);

    // 2,000 long streams at once.
    const agent = new Agent({ keepAlive: true, maxSockets: STREAMS + 10 });
    let opened = 0;
    const all = Array.from({ length: STREAMS }, () =>
      stream(
        agent,
        `${url}/a2a/countdown/`,
        rpc('SendStreamingMessage', { message: message(`count to ${STREAM_SECONDS}`) }),
        () => opened++,
      ),
    );
    const samples: number[] = [];
    let heapOpen = 0;
    while (opened < STREAMS) await new Promise((r) => setTimeout(r, 200));
    for (let s = 0; s < STREAM_SECONDS - 10; s++) {
      await new Promise((r) => setTimeout(r, 1000));
      samples.push(readRssMb(server.pid));
      heapOpen = Math.max(heapOpen, await heapUsedMb(metricsPort));
    }
    const events = await Promise.all(all);
    const peak = Math.max(...samples);
    const steady = samples.slice(-10).reduce((a, b) => a + b, 0) / 10;
    const complete = events.filter((e) => e >= STREAM_SECONDS).length;
    phases.push({
      phase: `${STREAMS} long streams`,
      rssMb: peak,
      heapMb: heapOpen,
      note: `peak while open (last 10 s average ${steady.toFixed(1)} MB; ${complete}/${STREAMS} streams got every event; ${(((peak - idle) * 1024) / STREAMS).toFixed(1)} KB per stream)`,
    });
    console.log(`streams: peak ${peak.toFixed(1)} MB, ${complete}/${STREAMS} complete`);
    agent.destroy();

    // Hostile load, 32 at a time.
    const hostileAgent = new Agent({ keepAlive: true, maxSockets: 32 });
    const statuses = new Map<number, number>();
    let next = 0;
    let peakHostile = 0;
    let heapHostile = 0;
    const sampler = setInterval(() => {
      peakHostile = Math.max(peakHostile, readRssMb(server.pid));
      void heapUsedMb(metricsPort).then(
        (h) => (heapHostile = Math.max(heapHostile, h)),
        () => {},
      );
    }, 250);
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < HOSTILE) {
          const r = hostile(next++, url);
          const status = await post(hostileAgent, r.url, r.body, r.type, r.method);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
      }),
    );
    clearInterval(sampler);
    hostileAgent.destroy();
    const byStatus = [...statuses]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${s}: ${n}`)
      .join(', ');
    phases.push({
      phase: `hostile load (${HOSTILE} requests)`,
      rssMb: peakHostile,
      heapMb: heapHostile,
      note: `peak during the load; answers by status ${byStatus}`,
    });
    console.log(`hostile: peak ${peakHostile.toFixed(1)} MB (${byStatus})`);

    await new Promise((r) => setTimeout(r, 3000));
    const after = readRssMb(server.pid);
    phases.push({
      phase: 'after',
      rssMb: after,
      heapMb: await heapUsedMb(metricsPort),
      note: 'everything finished; finished tasks retained within the byte budget',
    });
    console.log(`after: ${after.toFixed(1)} MB`);
  } finally {
    await server.stop();
  }

  const machine = machineInfo();
  mkdirSync(RESULTS_DIR, { recursive: true });
  const md = [
    '# Memory under load',
    '',
    `agentd (embedded store, default limits${HEAP_MB ? `, V8 old space capped at ${HEAP_MB} MB` : ''}), RSS of the server process. ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}. \`npm run bench:memory\`.`,
    '',
    'RSS is what the process holds from the OS; the V8 heap figure is what its JavaScript objects use, garbage not yet collected included (V8 collects lazily while memory is plentiful, and returns freed pages slowly).',
    '',
    '| phase | RSS MB | V8 heap used MB | |',
    '|---|--:|--:|---|',
    ...phases.map((p) => `| ${p.phase} | ${p.rssMb.toFixed(1)} | ${p.heapMb.toFixed(1)} | ${p.note} |`),
    '',
  ].join('\n');
  const name = HEAP_MB ? `memory-heap${HEAP_MB}` : 'memory';
  await writeFormatted(join(RESULTS_DIR, `${name}.md`), md, 'markdown');
  await writeFormatted(
    join(RESULTS_DIR, `${name}.json`),
    JSON.stringify({ machine, streams: STREAMS, hostile: HOSTILE, phases }),
    'json',
  );
  console.log(`\n${md}`);
}

runBenchmark(main);
