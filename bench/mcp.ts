/**
 * What agentd adds to an MCP tool call. Side by side in one run, against the same MCP
 * server (the reference "everything" server from npm, over stdio, its trivial `echo` tool):
 *
 * - direct: the official MCP client (`@modelcontextprotocol/client`) in this process calls
 *   the tool on a server it started;
 * - through agentd: an A2A SendMessage (JSON-RPC, blocking, keep-alive HTTP on loopback)
 *   to a `tools` agent, which calls the tool on the server agentd started and answers with
 *   the completed task carrying the result as an artifact.
 *
 * Calls are sequential (concurrency 1: latency, not throughput), in alternating blocks so
 * both paths see the same machine; each answer is checked. Writes bench/results/mcp.{json,md}.
 * `BENCH_CALLS` sets the measured calls per path (default 3000).
 */
import { SendMessageRequest } from '@a2a-js/sdk';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { dataPart } from '../src/agents/parts.js';
import { userMessage } from './lib/a2a.js';
import { freePort, startServer } from './lib/proc.js';
import {
  machineInfo,
  positiveIntEnv,
  printOutcome,
  runBenchmark,
  writeFormatted,
  type TargetResult,
} from './lib/report.js';
import { KeepAlivePost } from './lib/keep-alive-post.js';
import { agentdSpec } from './lib/servers.js';
import { percentile } from './lib/stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS_DIR = join(ROOT, 'bench/results');
const EVERYTHING = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const CALLS = positiveIntEnv('BENCH_CALLS', 3000);
const BLOCK = 100;
const TARGET_ADDED_P50_MS = 1;

interface PathResult {
  readonly path: string;
  readonly calls: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly mean: number;
}

function summarise(path: string, samples: number[]): PathResult {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    path,
    calls: samples.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    mean: samples.reduce((a, b) => a + b, 0) / samples.length,
  };
}

function writeConfig(): string {
  const file = join(tmpdir(), `agentd-bench-mcp-${process.pid}.yaml`);
  writeFileSync(
    file,
    stringify({
      server: { transport: 'http', compatV03: false },
      prometheus: { enabled: true, port: 0 },
      mcp: {
        endpoint: false,
        servers: [{ name: 'everything', transport: 'stdio', command: 'node', args: [EVERYTHING, 'stdio'] }],
      },
      agents: [{ name: 'tools', kind: 'tools', servers: ['everything'], tools: ['echo'] }],
    }),
  );
  return file;
}

function a2aBody(i: number): string {
  const message = {
    ...userMessage('', `m-${i}`),
    parts: [dataPart({ tool: 'echo', arguments: { message: `hi ${i}` } })],
  };
  const params = SendMessageRequest.toJSON({
    tenant: '',
    message,
    configuration: undefined,
    metadata: undefined,
  });
  return JSON.stringify({ jsonrpc: '2.0', id: i, method: 'SendMessage', params });
}

function markdown(
  results: PathResult[],
  added: { p50: number; p99: number },
  targets: TargetResult[],
  date: string,
): string {
  const m = machineInfo();
  return [
    '#### MCP tool call overhead',
    '',
    `${date} · Node ${m.node} · ${m.cpus} × ${m.cpuModel} · reference "everything" MCP server over stdio, ` +
      `tool \`echo\` · ${CALLS} sequential calls per path, in alternating blocks of ${BLOCK}`,
    '',
    '| path | calls | p50 ms | p90 ms | p99 ms | mean ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...results.map(
      (r) =>
        `| ${r.path} | ${r.calls} | ${r.p50.toFixed(3)} | ${r.p90.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.mean.toFixed(3)} |`,
    ),
    `| **added by agentd** | | **${added.p50.toFixed(3)}** | | **${added.p99.toFixed(3)}** | |`,
    '',
    '| target | actual | result |',
    '| --- | ---: | --- |',
    ...targets.map((t) => `| ${t.description} | ${t.actual.toFixed(3)} | ${t.pass ? 'PASS' : '**FAIL**'} |`),
    '',
    '"Added" is the difference of the two paths\' percentiles. The agentd path includes the A2A',
    'request itself (HTTP on loopback, JSON-RPC decode, task creation, the result as an artifact,',
    'the task committed to the embedded store, the response encoded); the MCP leg is the same',
    'client and server in both paths.',
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const direct = new Client({ name: 'bench', version: '1' });
  await direct.connect(
    new StdioClientTransport({ command: process.execPath, args: [EVERYTHING, 'stdio'], stderr: 'ignore' }),
  );
  const port = await freePort();
  const server = await startServer(agentdSpec({ name: 'agentd', root: ROOT, config: writeConfig(), port }));
  const agent = new KeepAlivePost(port);
  try {
    const directCall = async (i: number): Promise<void> => {
      const r = await direct.callTool({ name: 'echo', arguments: { message: `hi ${i}` } });
      const first = r.content[0];
      if (first?.type !== 'text' || first.text !== `Echo: hi ${i}`)
        throw new Error(`direct: ${JSON.stringify(r)}`);
    };
    const viaAgentd = async (i: number): Promise<void> => {
      const { body } = await agent.post('/a2a/tools/', a2aBody(i));
      if (!body.includes(`"text":"Echo: hi ${i}"`) || !body.includes('TASK_STATE_COMPLETED'))
        throw new Error(`agentd: ${body.slice(0, 500)}`);
    };
    console.log('== warm-up');
    for (let i = 0; i < 500; i++) {
      await directCall(i);
      await viaAgentd(i);
    }
    const samples: Record<'direct' | 'agentd', number[]> = { direct: [], agentd: [] };
    console.log(`== ${CALLS} calls per path`);
    for (let done = 0; done < CALLS; done += BLOCK) {
      for (const [name, call] of [
        ['direct', directCall],
        ['agentd', viaAgentd],
      ] as const) {
        for (let i = done; i < Math.min(CALLS, done + BLOCK); i++) {
          const t0 = performance.now();
          await call(i);
          samples[name].push(performance.now() - t0);
        }
      }
    }
    const results = [
      summarise('MCP client → MCP server (direct)', samples.direct),
      summarise('A2A SendMessage → agentd tools agent → MCP server → artifact', samples.agentd),
    ];
    const [d, a] = results as [PathResult, PathResult];
    const added = { p50: a.p50 - d.p50, p99: a.p99 - d.p99 };
    console.log(
      `direct p50 ${d.p50.toFixed(3)} ms, via agentd p50 ${a.p50.toFixed(3)} ms, added ${added.p50.toFixed(3)} ms`,
    );
    const targets: TargetResult[] = [
      {
        id: 'mcp-added-p50-ms',
        description: `added at p50 <= ${TARGET_ADDED_P50_MS} ms`,
        threshold: TARGET_ADDED_P50_MS,
        actual: added.p50,
        pass: added.p50 <= TARGET_ADDED_P50_MS,
      },
    ];
    const date = new Date().toISOString();
    mkdirSync(RESULTS_DIR, { recursive: true });
    await writeFormatted(
      join(RESULTS_DIR, 'mcp.json'),
      JSON.stringify({
        benchmark: 'mcp',
        date,
        machine: machineInfo(),
        config: { calls: CALLS, block: BLOCK },
        results,
        added,
        targets,
      }),
      'json',
    );
    const md = await writeFormatted(
      join(RESULTS_DIR, 'mcp.md'),
      markdown(results, added, targets, date),
      'markdown',
    );
    printOutcome(md, targets, `${relative(process.cwd(), RESULTS_DIR)}/mcp.{json,md}`);
  } finally {
    agent.close();
    await direct.close();
    await server.stop();
  }
}

runBenchmark(main);
