/**
 * What every benchmark report needs: its run length, the machine it ran on and
 * result files formatted the way the repository's prettier check expects.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { format, resolveConfig } from 'prettier';

/** The machine a benchmark ran on. */
export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  node: string;
  platform: string;
}

/**
 * The environment variable `name` as a positive integer when set, else `fallback`.
 * Throws on any other value.
 */
export function positiveIntEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

/**
 * Seconds per measured run: `BENCH_DURATION` when set (a positive integer),
 * else `defaultSeconds`. Throws on any other value.
 */
export function durationSeconds(defaultSeconds: number): number {
  return positiveIntEnv('BENCH_DURATION', defaultSeconds);
}

/** Cores, CPU model, Node version and OS of this machine. */
export function machineInfo(): MachineInfo {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  };
}

/** Writes `text` formatted by the project's prettier config (so `format:check` passes); returns it. */
export async function writeFormatted(
  file: string,
  text: string,
  parser: 'json' | 'markdown',
): Promise<string> {
  const formatted = await format(text, { ...(await resolveConfig(file)), parser });
  writeFileSync(file, formatted);
  return formatted;
}

/** A benchmark target and whether the run met it. */
export interface TargetResult {
  id: string;
  description: string;
  threshold: number;
  actual: number;
  pass: boolean;
}

/** Prints the table, then which targets were missed (a measurement: never an exit code). */
export function printOutcome(markdown: string, targets: readonly TargetResult[], files: string): void {
  console.log(`\n${markdown}`);
  const misses = targets.filter((t) => !t.pass);
  if (misses.length > 0) {
    console.log(`TARGETS MISSED (${misses.length}/${targets.length}):`);
    for (const t of misses) console.log(`  ✗ ${t.description}: actual ${t.actual.toFixed(3)}`);
  } else {
    console.log(`All ${targets.length} targets met.`);
  }
  console.log(`Results written to ${files}`);
}

/**
 * Runs a benchmark's `main` and exits through `process.exit` (0, or 1 with the reason), so
 * the exit hook of bench/lib/proc.ts stops any server still running; SIGINT and SIGTERM
 * exit the same way.
 */
export function runBenchmark(main: () => Promise<void>): void {
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`\nbench failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
