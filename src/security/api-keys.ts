/**
 * API keys (`X-API-Key`): the configured keys plus those of a key file that is re-read when
 * it changes, so a key removed from the file stops working without a restart. Keys are held
 * only as SHA-256 digests and compared in constant time (every entry, no early exit).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import type { Logger } from 'pino';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { readSecret, describeSecret } from '../config/secrets.js';
import { AuthConfigError, type AuthConfig } from './auth-config.js';

/** One accepted key, by its digest. */
export interface ApiKeyEntry {
  readonly digest: Buffer;
  readonly principal: string;
  readonly scopes: readonly string[];
}

const fileEntry = z.strictObject({
  key: z.string().min(1).optional(),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/i, 'must be 64 hex digits')
    .optional(),
  principal: z.string().min(1),
  scopes: z.array(z.string().min(1)).default([]),
});
const listSchema = z.array(fileEntry);
const objectSchema = z.strictObject({ apiKeys: listSchema });

/** SHA-256 of a key, as the digest entries hold. */
export function keyDigest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** Parses a key file's text (YAML or JSON: a list, or `{apiKeys: [...]}`); throws naming the bad field. */
export function parseKeyFile(text: string, file: string): ApiKeyEntry[] {
  let doc: unknown;
  try {
    doc = parseYaml(text) ?? [];
  } catch (error) {
    throw new Error(`API key file ${file} is not valid YAML or JSON: ${(error as Error).message}`);
  }
  // Parsed by the shape it has, so an error names the entry and field rather than "invalid input".
  const parsed = Array.isArray(doc)
    ? listSchema.safeParse(doc)
    : objectSchema.transform((o) => o.apiKeys).safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `API key file ${file}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data.map((e, i) => {
    if ((e.key === undefined) === (e.sha256 === undefined))
      throw new Error(`API key file ${file}: ${i}: give exactly one of key or sha256`);
    return {
      digest: e.key !== undefined ? keyDigest(e.key) : Buffer.from(e.sha256 as string, 'hex'),
      principal: e.principal,
      scopes: e.scopes,
    };
  });
}

/** How often the key file is checked for changes when no file-system event arrives. */
const RECHECK_MS = 2000;

/** The accepted API keys: configured ones plus the key file's current contents. */
export class ApiKeyStore {
  private fileEntries: readonly ApiKeyEntry[] = [];
  private fileStamp = '';
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly file: string | undefined;

  constructor(
    private readonly configured: readonly ApiKeyEntry[],
    file: string | undefined,
    private readonly logger: Logger,
  ) {
    this.file = file;
    if (file) {
      this.reload(true);
      this.watch(file);
    }
  }

  /** Builds the store from `auth`, resolving each configured key's secret now. */
  static fromConfig(auth: AuthConfig, baseDir: string, env: NodeJS.ProcessEnv, logger: Logger): ApiKeyStore {
    const entries: ApiKeyEntry[] = [];
    for (const k of auth.apiKeys) {
      let digest: Buffer;
      if (k.sha256 !== undefined) digest = Buffer.from(k.sha256, 'hex');
      else {
        const value = k.key === undefined ? undefined : readSecret(k.key, baseDir, env);
        if (value === undefined) {
          logger.warn(
            { principal: k.principal },
            `API key of principal "${k.principal}" skipped: ${k.key ? describeSecret(k.key) : 'no key'} is not set`,
          );
          continue;
        }
        digest = keyDigest(value);
      }
      entries.push({ digest, principal: k.principal, scopes: k.scopes });
    }
    const file =
      auth.apiKeysFile &&
      (isAbsolute(auth.apiKeysFile) ? auth.apiKeysFile : resolve(baseDir, auth.apiKeysFile));
    return new ApiKeyStore(entries, file, logger);
  }

  /** Whether any key can ever be accepted (a key file counts even while empty). */
  get configuredAny(): boolean {
    return this.configured.length > 0 || this.file !== undefined;
  }

  /** The entry whose key this is, or undefined. Compares against every entry in constant time. */
  lookup(key: string): ApiKeyEntry | undefined {
    const digest = keyDigest(key);
    let found: ApiKeyEntry | undefined;
    for (const list of [this.configured, this.fileEntries])
      for (const entry of list)
        if (entry.digest.length === digest.length && timingSafeEqual(entry.digest, digest) && !found)
          found = entry;
    return found;
  }

  /** Re-reads the key file if it changed; a file that cannot be read or parsed keeps the old keys. */
  reload(initial = false): void {
    const file = this.file;
    if (!file) return;
    let stamp: string;
    try {
      const s = statSync(file);
      stamp = `${s.mtimeMs}:${s.size}:${s.ino}`;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      // A deleted key file revokes its keys.
      if (this.fileEntries.length > 0 || initial)
        this.logger.warn({ file }, 'API key file is missing: none of its keys are accepted');
      this.fileEntries = [];
      this.fileStamp = '';
      return;
    }
    if (stamp === this.fileStamp) return;
    try {
      this.fileEntries = parseKeyFile(readFileSync(file, 'utf8'), file);
      this.fileStamp = stamp;
      this.logger.info({ file, keys: this.fileEntries.length }, 'API key file loaded');
    } catch (error) {
      if (initial) throw new AuthConfigError((error as Error).message);
      this.logger.error({ file, err: error }, 'API key file not reloaded (keeping the previous keys)');
    }
  }

  private watch(file: string): void {
    // The directory is watched, so an atomic replace (a new inode, as Kubernetes Secrets do) is seen.
    try {
      this.watcher = watch(dirname(file), (_event, name) => {
        if (name === null || name === basename(file) || name.startsWith('..')) this.reload();
      });
      this.watcher.unref();
    } catch (error) {
      this.logger.debug({ err: error, file }, 'cannot watch the API key file; checking it periodically');
    }
    this.timer = setInterval(() => this.reload(), RECHECK_MS);
    this.timer.unref();
  }

  close(): void {
    this.watcher?.close();
    clearInterval(this.timer);
  }
}
