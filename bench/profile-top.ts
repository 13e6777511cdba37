/**
 * Summarises a V8 CPU profile (`node --cpu-prof`, e.g. agentd run by
 * bench/transports.ts with `BENCH_AGENTD_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR"`):
 * the functions with the most self time, as a share of the busy (non-idle)
 * samples, with `dist/` frames mapped back to `src/` through their source maps.
 *
 * Usage: `tsx bench/profile-top.ts <file.cpuprofile> [--match <prefix>] [--top N]`
 * (`--match` keeps only frames whose location starts with it, e.g. `src/` for
 * agentd's own code; the shares stay relative to all busy samples). Also prints the busy share by area
 * (agentd, grpc-js, SDK, node internals, GC, ...).
 */
import { readFileSync } from 'node:fs';
import { SourceMap, type SourceMapping } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Pseudo-frames V8 reports for time not spent in JavaScript functions. */
const IDLE = '(idle)';

const maps = new Map<string, SourceMap | undefined>();

function sourceMapFor(url: string): SourceMap | undefined {
  if (!maps.has(url)) {
    let map: SourceMap | undefined;
    try {
      const file = fileURLToPath(url);
      map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')) as never);
    } catch {
      map = undefined;
    }
    maps.set(url, map);
  }
  return maps.get(url);
}

/** `src/x.ts:line` for a frame in dist/ with a source map, else the frame's own location. */
function location(frame: CallFrame): string {
  if (!frame.url) return '';
  // findEntry returns {} when nothing maps.
  const entry = (
    frame.url.includes('/dist/')
      ? sourceMapFor(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber)
      : undefined
  ) as Partial<SourceMapping> | undefined;
  if (entry?.originalSource !== undefined && entry.originalLine !== undefined) {
    const src = entry.originalSource.replace(/^.*?\/src\//, 'src/').replace(/^file:\/\//, '');
    return `${src}:${entry.originalLine + 1}`;
  }
  return `${frame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/dist\//, 'dist/')}:${frame.lineNumber + 1}`;
}

function area(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return functionName || '(native)';
  if (url.includes('@grpc/grpc-js')) return 'grpc-js';
  if (url.includes('@a2a-js/sdk')) return '@a2a-js/sdk';
  if (url.includes('@bufbuild/protobuf')) return '@bufbuild/protobuf';
  if (url.includes('/node_modules/')) return url.replace(/^.*\/node_modules\/((@[^/]+\/)?[^/]+).*$/, '$1');
  if (url.includes('/dist/')) return 'agentd (src/)';
  if (url.startsWith('node:internal/http2')) return 'node http2';
  if (url.startsWith('node:')) return 'node (other)';
  return 'other JS';
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { match: { type: 'string', default: '' }, top: { type: 'string', default: '25' } },
  });
  const file = positionals[0];
  if (file === undefined) {
    console.error('usage: tsx bench/profile-top.ts <file.cpuprofile> [--match <prefix>] [--top N]');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

  let busyUs = 0;
  let idleUs = 0;
  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = nodes.get(id)?.callFrame;
    if (!frame) continue;
    if (frame.functionName === IDLE) {
      idleUs += us;
      continue;
    }
    busyUs += us;
    byArea.set(area(frame), (byArea.get(area(frame)) ?? 0) + us);
    const where = location(frame);
    if (!where.startsWith(values.match)) continue;
    const key = `${frame.functionName || '(anonymous)'}  ${where}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  }
  const pct = (us: number): string => `${((100 * us) / busyUs).toFixed(1).padStart(5)} %`;
  console.log(
    `${file}: busy ${(busyUs / 1e6).toFixed(2)} s, idle ${(idleUs / 1e6).toFixed(2)} s; shares are of busy time\n`,
  );
  console.log('by area:');
  for (const [name, us] of [...byArea].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
    console.log(`  ${pct(us)}  ${name}`);
  }
  console.log(`\ntop self time${values.match ? ` (frames starting "${values.match}")` : ''}:`);
  for (const [name, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
    console.log(`  ${pct(us)}  ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}`);
  }
}

main();
