/**
 * What agentd presents on outbound calls (A2A peers, the CLI, webhooks): per-target
 * credentials as headers and TLS settings (a private CA, a client certificate for mTLS) as
 * an undici Dispatcher. The first `outbound.targets[]` entry whose `url` prefixes the
 * request URL applies; its TLS files override the section-wide ones.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { rootCertificates } from 'node:tls';
import type { Dispatcher } from 'undici';
import type { AgentdConfig, SecretRef } from '../config/schema.js';
import { requireSecret } from '../config/secrets.js';

type OutboundConfig = AgentdConfig['outbound'];

/** PEM material for an outbound TLS connection; each part optional. */
export interface OutboundTls {
  /** Trusted CAs: the system roots plus the configured bundle (undefined: the system roots). */
  readonly ca: readonly string[] | undefined;
  /** Client certificate chain and key (mTLS). */
  readonly cert: Buffer | undefined;
  readonly key: Buffer | undefined;
}

/** What one outbound call to a URL needs. */
export interface OutboundCall {
  /** Credentials for the target: `X-API-Key`, `Authorization: Bearer`, configured headers. */
  readonly headers: Readonly<Record<string, string>>;
  /** The TLS settings for the target (also what gRPC channel credentials are built from). */
  readonly tls: OutboundTls;
  /** A dispatcher carrying `tls`, or undefined when the defaults apply. */
  readonly dispatcher: Dispatcher | undefined;
  /** `fetch` through `dispatcher`, adding `headers` that the caller did not set itself. */
  readonly fetch: typeof fetch;
}

interface TlsFileSet {
  readonly caFile?: string | undefined;
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
}

interface ResolvedTarget {
  readonly prefix: string;
  readonly tls: OutboundTls;
  readonly dispatcher: Dispatcher | undefined;
  readonly apiKey: SecretRef | undefined;
  readonly bearerToken: SecretRef | undefined;
  readonly headers: Readonly<Record<string, SecretRef>>;
}

/** An outbound TLS file could not be read; the message names the file and setting. */
export class OutboundConfigError extends Error {
  override readonly name = 'OutboundConfigError';
}

const NO_TLS: OutboundTls = { ca: undefined, cert: undefined, key: undefined };

/**
 * Outbound settings for every target. Build with {@link Outbound.create} (reads the TLS
 * files once; undici is loaded only when some TLS file is configured). `close()` closes the
 * dispatchers.
 */
export class Outbound {
  /** No credentials, default TLS: what a call gets with no `outbound` section. */
  static readonly none = new Outbound([], undefined, '.', process.env);

  private constructor(
    private readonly targets: readonly ResolvedTarget[],
    private readonly fallback: ResolvedTarget | undefined,
    private readonly baseDir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** Reads the configured TLS files (relative paths against `baseDir`); secrets are read per call. */
  static async create(
    config: Partial<OutboundConfig> & TlsFileSet,
    baseDir = process.cwd(),
    env: NodeJS.ProcessEnv = process.env,
  ): Promise<Outbound> {
    const targetsConfig = config.targets ?? [];
    const anyTls = [config, ...targetsConfig].some((t) => t.caFile || t.certFile || t.keyFile);
    const Agent = anyTls ? (await import('undici')).Agent : undefined;
    const build = (
      prefix: string,
      files: TlsFileSet,
      where: string,
    ): Omit<ResolvedTarget, 'apiKey' | 'bearerToken' | 'headers'> => {
      const tls = readTls(files, baseDir, where);
      const dispatcher =
        Agent && tls !== NO_TLS
          ? new Agent({
              connect: {
                ...(tls.ca ? { ca: [...tls.ca] } : {}),
                ...(tls.cert ? { cert: tls.cert } : {}),
                ...(tls.key ? { key: tls.key } : {}),
              },
            })
          : undefined;
      return { prefix, tls, dispatcher };
    };
    const section = { caFile: config.caFile, certFile: config.certFile, keyFile: config.keyFile };
    const fallback =
      section.caFile || section.certFile || section.keyFile
        ? { ...build('', section, 'outbound'), apiKey: undefined, bearerToken: undefined, headers: {} }
        : undefined;
    const targets = targetsConfig.map((t, i) => {
      const own = t.caFile || t.certFile || t.keyFile;
      const base = own
        ? build(
            t.url,
            {
              caFile: t.caFile ?? section.caFile,
              certFile: t.certFile ?? section.certFile,
              keyFile: t.keyFile ?? section.keyFile,
            },
            `outbound.targets[${i}]`,
          )
        : { prefix: t.url, tls: fallback?.tls ?? NO_TLS, dispatcher: fallback?.dispatcher };
      return { ...base, apiKey: t.apiKey, bearerToken: t.bearerToken, headers: t.headers ?? {} };
    });
    return new Outbound(targets, fallback, baseDir, env);
  }

  /**
   * Everything an outbound call to `url` needs. Throws when a configured secret is not set.
   * `pooled`, when given, carries the requests instead of the target's own dispatcher: a
   * caller's keep-alive pool for the target's origin, built from this call's `tls`.
   */
  for(url: string, pooled?: Dispatcher): OutboundCall {
    const target = this.targets.find((t) => url.startsWith(t.prefix)) ?? this.fallback;
    if (!target)
      return {
        headers: {},
        tls: NO_TLS,
        dispatcher: pooled,
        fetch: pooled ? fetchWith({}, pooled) : globalThis.fetch,
      };
    const what = `outbound credentials for ${target.prefix}`;
    const headers: Record<string, string> = {};
    for (const [name, ref] of Object.entries(target.headers))
      headers[name.toLowerCase()] = requireSecret(ref, `${what} (header ${name})`, this.baseDir, this.env);
    if (target.apiKey)
      headers['x-api-key'] = requireSecret(target.apiKey, `${what} (apiKey)`, this.baseDir, this.env);
    if (target.bearerToken)
      headers.authorization = `Bearer ${requireSecret(target.bearerToken, `${what} (bearerToken)`, this.baseDir, this.env)}`;
    const dispatcher = pooled ?? target.dispatcher;
    return { headers, tls: target.tls, dispatcher, fetch: fetchWith(headers, dispatcher) };
  }

  /** The TLS settings for `url` alone (no secrets read): what a connection pool for it is built with. */
  tlsFor(url: string): OutboundTls {
    return (this.targets.find((t) => url.startsWith(t.prefix)) ?? this.fallback)?.tls ?? NO_TLS;
  }

  /** Closes the dispatchers (their pooled connections). */
  async close(): Promise<void> {
    const all = new Set(
      [...this.targets, this.fallback].map((t) => t?.dispatcher).filter((d) => d !== undefined),
    );
    await Promise.all([...all].map((d) => d.close()));
  }
}

function readTls(files: TlsFileSet, baseDir: string, where: string): OutboundTls {
  if (!files.caFile && !files.certFile && !files.keyFile) return NO_TLS;
  if (Boolean(files.certFile) !== Boolean(files.keyFile))
    throw new OutboundConfigError(`${where}: certFile and keyFile go together`);
  const read = (file: string, setting: string): Buffer => {
    const path = isAbsolute(file) ? file : resolve(baseDir, file);
    try {
      return readFileSync(path);
    } catch (error) {
      throw new OutboundConfigError(`${where}.${setting}: cannot read ${path}: ${(error as Error).message}`);
    }
  };
  return {
    // The configured CA is trusted besides the system roots (Node's `ca` replaces them).
    ca: files.caFile ? [...rootCertificates, read(files.caFile, 'caFile').toString('utf8')] : undefined,
    cert: files.certFile ? read(files.certFile, 'certFile') : undefined,
    key: files.keyFile ? read(files.keyFile, 'keyFile') : undefined,
  };
}

/** `fetch` with extra default headers, through `dispatcher` (undici's fetch) when one is given. */
function fetchWith(
  extra: Readonly<Record<string, string>>,
  dispatcher: Dispatcher | undefined,
): typeof fetch {
  const names = Object.keys(extra);
  if (names.length === 0 && !dispatcher) return globalThis.fetch;
  let undiciFetch: Promise<typeof import('undici').fetch> | undefined;
  return (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    for (const name of names) if (!headers.has(name)) headers.set(name, extra[name] as string);
    if (!dispatcher) return globalThis.fetch(input, { ...init, headers });
    undiciFetch ??= import('undici').then((u) => u.fetch);
    const f = await undiciFetch;
    const target = input instanceof Request ? input.url : input;
    // The npm undici's fetch: Node's global fetch may bundle another undici, whose
    // dispatchers are not interchangeable with this one's.
    return (await f(target, {
      ...(init as Record<string, unknown>),
      headers: [...headers.entries()],
      dispatcher,
    } as Parameters<typeof f>[1])) as unknown as Response;
  }) as typeof fetch;
}
