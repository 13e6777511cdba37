/**
 * Figures and tables of the workflows benchmark: latency of every request as the client timed
 * it, and what one step costs, derived per iteration from requests timed side by side.
 */
import { machineInfo, type TargetResult } from './report.js';
import { percentile } from './stats.js';

/** Latency statistics of a set of samples, in ms. */
export interface Stats {
  readonly n: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly mean: number;
}

/** A figure (a request, or a per-step cost) measured, or why it could not be. */
export type Figure =
  | {
      readonly id: string;
      readonly label: string;
      readonly stats: Stats;
      /** The p50 of each round on its own (the rounds' spread). */
      readonly roundsP50: number[];
    }
  | { readonly id: string; readonly label: string; readonly unavailable: string };

/** What the report needs beyond the figures. */
export interface ReportMeta {
  readonly date: string;
  readonly iterations: number;
  readonly rounds: number;
  readonly warmup: number;
  readonly steps: number;
}

export function stats(samples: readonly number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    mean: samples.reduce((a, b) => a + b, 0) / samples.length,
  };
}

/**
 * A figure from each round's samples (undefined: a case it needs was unavailable, `why`).
 * Percentiles are over all rounds' samples together.
 */
export function figure(
  id: string,
  label: string,
  perRound: ReadonlyArray<number[] | undefined>,
  why: string | undefined,
): Figure {
  if (perRound.some((r) => r === undefined || r.length === 0))
    return { id, label, unavailable: why ?? 'not measured' };
  const rounds = perRound as number[][];
  return { id, label, stats: stats(rounds.flat()), roundsP50: rounds.map((r) => stats(r).p50) };
}

const ms = (x: number): string => x.toFixed(3);

/** A table row: label, samples, p50, p99, mean, each round's p50, then `extra` cells (`extraCells` of them). */
function row(f: Figure, extraCells = 0, extra: (s: Stats) => string = () => ''): string {
  if ('unavailable' in f) return `| ${f.label} | unavailable |${' |'.repeat(4 + extraCells)}`;
  const s = f.stats;
  return (
    `| ${f.label} | ${s.n} | ${ms(s.p50)} | ${ms(s.p99)} | ${ms(s.mean)} | ` +
    `${f.roundsP50.map(ms).join(' / ')} |${extra(s)}`
  );
}

/** Why figures were unavailable, one line per reason, naming the requests it kept from running. */
function unavailableNotes(requests: readonly Figure[]): string[] {
  const byReason = new Map<string, string[]>();
  for (const f of requests)
    if ('unavailable' in f) byReason.set(f.unavailable, [...(byReason.get(f.unavailable) ?? []), f.label]);
  return [...byReason].map(
    ([why, labels]) => `Unavailable in this run: ${labels.join('; ')}. Reason: ${why}`,
  );
}

/** The report as markdown (bench/results/workflows.md). */
export function workflowsMarkdown(
  requests: readonly Figure[],
  perStep: readonly Figure[],
  ratio: { p50: number; mean: number } | undefined,
  targets: readonly TargetResult[],
  meta: ReportMeta,
): string {
  const m = machineInfo();
  const directCall = perStep.find((f) => f.id === 'direct-call');
  const versusDirect = (s: Stats): string =>
    directCall && 'stats' in directCall ? ` ${(s.p50 / directCall.stats.p50).toFixed(2)} |` : ' |';
  return [
    '#### Workflows: steps in process and to remote agents',
    '',
    `${meta.date} · Node ${m.node} · ${m.cpus} × ${m.cpuModel} · embedded store · ` +
      `${meta.iterations} iterations per round after ${meta.warmup} warm-up iterations, ${meta.rounds} ` +
      `round(s) with fresh processes; each iteration sends every request below once, in a rotating ` +
      `order, one at a time (blocking JSON-RPC \`SendMessage\`, one keep-alive connection per server) · ` +
      '`npm run bench:workflows`',
    '',
    '##### Requests, as the client timed them',
    '',
    '| request | samples | p50 ms | p99 ms | mean ms | p50 of each round |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
    ...requests.map((f) => row(f)),
    '',
    ...unavailableNotes(requests).flatMap((n) => [n, '']),
    '',
    ratio
      ? `A workflow of ${meta.steps} local steps ÷ the same ${meta.steps} calls sent by a client: ` +
        `**${ratio.p50.toFixed(2)}×** at p50, ${ratio.mean.toFixed(2)}× on means.`
      : '',
    '',
    '##### One step',
    '',
    '| step | samples | p50 ms | p99 ms | mean ms | p50 of each round | p50 ÷ direct call p50 |',
    '| --- | ---: | ---: | ---: | ---: | --- | ---: |',
    ...perStep.map((f) => row(f, 1, versusDirect)),
    '',
    '| target | actual | result |',
    '| --- | ---: | --- |',
    ...targets.map((t) => `| ${t.description} | ${ms(t.actual)} | ${t.pass ? 'met' : '**not met**'} |`),
    '',
    `"Per local step" is (\`seq${meta.steps}\` − \`seq1\`) ÷ ${meta.steps - 1} in each iteration: what a`,
    'step to an agent in the same process adds, the fixed cost of the workflow task (the request, the',
    'task, its answer) taken out. "÷ 10" rows spread a whole request, fixed cost included, over its',
    '10 steps or calls; "fixed cost removed" rows subtract the 1-step workflow as for local steps.',
    'Remote workflows run on process A and call the echo agent of process B; the direct rows are',
    'this client calling that same agent.',
    '',
  ].join('\n');
}
