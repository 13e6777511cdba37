/**
 * The certificate, key and client CA a TLS listener serves, read from PEM files and kept
 * current when the files change (cert-manager and similar tools rotate them in place).
 * A change is picked up by polling every `reloadIntervalMs` and, sooner, by watching the
 * files' directories. New material is checked before it is used: a half-written or
 * mismatched file keeps the old material and logs an error, and the next change is tried
 * again, so a rotation in progress never takes a listener down.
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';

/** The PEM files of a TLS identity, and optionally the CA bundle peers must chain to. */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** Client certificates must chain to this bundle (mTLS). */
  readonly caFile?: string | undefined;
}

/** One consistent set of TLS material, checked to load. */
export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | undefined;
  /** SHA-256 fingerprint of the leaf certificate, colon-separated hex (as Node reports it). */
  readonly fingerprint256: string;
  /** When the leaf certificate expires. */
  readonly validTo: Date;
}

/** The files could not be read or do not form a usable TLS identity; the message says which and why. */
export class TlsMaterialError extends Error {
  override readonly name = 'TlsMaterialError';
}

/**
 * Reads and checks the files: the certificate parses, the key parses and belongs to it,
 * and Node can build a secure context from them. Throws a {@link TlsMaterialError}.
 */
export async function readTlsMaterial(files: TlsFiles): Promise<TlsMaterial> {
  const read = async (file: string, what: string): Promise<Buffer> => {
    try {
      return await readFile(file);
    } catch (error) {
      throw new TlsMaterialError(`cannot read the TLS ${what} ${file}: ${(error as Error).message}`);
    }
  };
  const [cert, key, ca] = await Promise.all([
    read(files.certFile, 'certificate'),
    read(files.keyFile, 'key'),
    files.caFile === undefined ? undefined : read(files.caFile, 'client CA bundle'),
  ]);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (error) {
    throw new TlsMaterialError(
      `${files.certFile} is not a PEM certificate (${(error as Error).message}); is it still being written?`,
    );
  }
  try {
    if (!leaf.checkPrivateKey(createPrivateKey(key)))
      throw new TlsMaterialError(
        `the key in ${files.keyFile} does not belong to the certificate in ${files.certFile}`,
      );
  } catch (error) {
    if (error instanceof TlsMaterialError) throw error;
    throw new TlsMaterialError(
      `${files.keyFile} is not a PEM private key (${(error as Error).message}); is it still being written?`,
    );
  }
  if (ca !== undefined) {
    try {
      new X509Certificate(ca);
    } catch (error) {
      throw new TlsMaterialError(`${files.caFile} is not a PEM CA bundle (${(error as Error).message})`);
    }
  }
  try {
    createSecureContext({ cert, key, ...(ca ? { ca } : {}) });
  } catch (error) {
    throw new TlsMaterialError(
      `TLS material from ${files.certFile} does not load: ${(error as Error).message}`,
    );
  }
  return { cert, key, ca, fingerprint256: leaf.fingerprint256, validTo: new Date(leaf.validTo) };
}

/** Resolves the files' paths against `baseDir` (the config file's directory). */
export function resolveTlsFiles(files: TlsFiles, baseDir: string): TlsFiles {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  return {
    certFile: abs(files.certFile),
    keyFile: abs(files.keyFile),
    ...(files.caFile !== undefined ? { caFile: abs(files.caFile) } : {}),
  };
}

function digest(m: TlsMaterial): string {
  const h = createHash('sha256').update(m.cert).update('\0').update(m.key).update('\0');
  if (m.ca) h.update(m.ca);
  return h.digest('hex');
}

/**
 * TLS material kept current: `current` is always the last good set, listeners hear of each
 * new good set. Create with {@link TlsReloader.load} (fails when the files are bad at
 * startup), then `start()` watching; `close()` stops.
 */
export class TlsReloader {
  private listeners: Array<(material: TlsMaterial) => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private watchers: FSWatcher[] = [];
  private checking: Promise<boolean> | undefined;
  private again = false;
  private debounce: NodeJS.Timeout | undefined;
  private lastDigest: string;
  /** The last error logged, so a file that stays bad is reported once, not every poll. */
  private lastError: string | undefined;

  private constructor(
    private readonly files: TlsFiles,
    private material: TlsMaterial,
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {
    this.lastDigest = digest(material);
  }

  /** Reads the files now; throws a {@link TlsMaterialError} when they are not usable. */
  static async load(files: TlsFiles, logger: Logger, intervalMs: number): Promise<TlsReloader> {
    return new TlsReloader(files, await readTlsMaterial(files), logger, intervalMs);
  }

  /** The last good material. */
  get current(): TlsMaterial {
    return this.material;
  }

  /** Calls `listener` with each new good material (not with the current one). */
  onChange(listener: (material: TlsMaterial) => void): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** Polls every interval and watches the files' directories (a rename-into-place is seen too). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
    const dirs = new Set(
      [this.files.certFile, this.files.keyFile, this.files.caFile]
        .filter((f): f is string => f !== undefined)
        .map((f) => dirname(f)),
    );
    for (const dir of dirs) {
      try {
        const w = watch(dir, { persistent: false }, () => {
          // A writer makes several changes in a row (truncate, write, rename): check once after them.
          clearTimeout(this.debounce);
          this.debounce = setTimeout(() => void this.check(), 100);
          this.debounce.unref();
        });
        w.on('error', () => w.close()); // the directory went away; polling still covers it
        this.watchers.push(w);
      } catch {
        // Not watchable here (some network file systems): polling covers it.
      }
    }
  }

  /**
   * Reads the files once; when they hold new good material it becomes `current` and the
   * listeners are told. Resolves whether the material changed. Bad files are logged and
   * the old material stays.
   */
  check(): Promise<boolean> {
    if (this.checking) {
      this.again = true;
      return this.checking;
    }
    this.checking = (async () => {
      let changed = false;
      do {
        this.again = false;
        changed = (await this.readOnce()) || changed;
      } while (this.again);
      return changed;
    })().finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async readOnce(): Promise<boolean> {
    let next: TlsMaterial;
    try {
      next = await readTlsMaterial(this.files);
    } catch (error) {
      const message = (error as Error).message;
      if (message !== this.lastError)
        this.logger.error(
          { err: { message }, fingerprint256: this.material.fingerprint256 },
          'new TLS certificate files are not usable; still serving the previous certificate',
        );
      this.lastError = message;
      return false;
    }
    this.lastError = undefined;
    const d = digest(next);
    if (d === this.lastDigest) return false;
    this.lastDigest = d;
    this.material = next;
    this.logger.info(
      { fingerprint256: next.fingerprint256, validTo: next.validTo.toISOString() },
      'TLS certificate reloaded',
    );
    for (const l of this.listeners) {
      try {
        l(next);
      } catch (error) {
        this.logger.error({ err: error }, 'applying the reloaded TLS certificate failed');
      }
    }
    return true;
  }

  close(): void {
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    this.timer = undefined;
    for (const w of this.watchers) w.close();
    this.watchers = [];
    this.listeners = [];
  }
}
