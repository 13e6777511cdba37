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
 * Seconds per measured run: `BENCH_DURATION` when set (a positive integer),
 * else `defaultSeconds`. Throws on any other value.
 */
export function durationSeconds(defaultSeconds: number): number {
  const raw = process.env.BENCH_DURATION;
  if (raw === undefined || raw === '') return defaultSeconds;
  const secs = Number(raw);
  if (!Number.isInteger(secs) || secs < 1)
    throw new Error(`BENCH_DURATION must be a positive integer, got "${raw}"`);
  return secs;
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
