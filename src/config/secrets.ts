import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { SecretRef } from './schema.js';

/** Raised when a configured secret cannot be read; the message names where it was looked for. */
export class SecretError extends Error {
  override readonly name = 'SecretError';
}

/**
 * The value of a secret: a literal, an environment variable, or a file's contents with
 * the trailing newline trimmed (a mounted Kubernetes Secret). Returns `undefined` when the
 * variable is unset or the file is missing, so callers decide whether that is fatal;
 * throws only for a file that exists but cannot be read.
 */
export function readSecret(
  ref: SecretRef,
  baseDir: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (typeof ref === 'string') return ref;
  if ('env' in ref) {
    const value = env[ref.env];
    return value === undefined || value === '' ? undefined : value;
  }
  const file = isAbsolute(ref.file) ? ref.file : resolve(baseDir, ref.file);
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SecretError(`cannot read secret file ${file}: ${(error as Error).message}`);
  }
}

/** Where a secret comes from, for messages (never its value). */
export function describeSecret(ref: SecretRef): string {
  if (typeof ref === 'string') return 'the literal in the config';
  return 'env' in ref ? `environment variable ${ref.env}` : `file ${ref.file}`;
}

/** Resolves a secret that must be there, or throws naming what is missing. */
export function requireSecret(
  ref: SecretRef,
  what: string,
  baseDir: string,
  env?: NodeJS.ProcessEnv,
): string {
  const value = readSecret(ref, baseDir, env);
  if (value === undefined) throw new SecretError(`${what}: ${describeSecret(ref)} is not set`);
  return value;
}
