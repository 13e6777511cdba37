/**
 * The HTTP client of push notifications, SSRF-safe: every connection's address is checked
 * against the {@link AllowList} and the default rules after DNS resolution (a guarded
 * `lookup` filters the resolved addresses, the connected socket's peer is checked again),
 * so a name that resolves, or re-resolves, to a refused address never gets a request.
 * Redirects are not followed, response bodies are read only up to a cap, and each
 * delivery has a timeout.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Agent, buildConnector, request } from 'undici';
import { err, isAgentdError, type AgentdError } from '../errors.js';
import type { OutboundCall, OutboundTls } from './outbound.js';
import type { WebhookTransport } from '../engine/push-notifier.js';
import {
  AllowList,
  REFUSAL_TEXT,
  classifyAddress,
  classifyName,
  refusedUrl,
  type RefusalReason,
} from './ssrf-guard.js';

/** Resolves a host name to all its addresses (the default is the system resolver). */
export type Resolver = (hostname: string) => Promise<readonly LookupAddress[]>;

export interface WebhookDispatcherOptions {
  /** `push.allow` entries. */
  readonly allow: readonly string[];
  /** Response bytes read at most (then the connection is dropped). */
  readonly maxResponseBytes: number;
  /** Connect, headers and body timeout of one delivery. */
  readonly timeoutMs: number;
  /** Host-name resolution; tests inject one so that no real DNS is involved. */
  readonly resolve?: Resolver;
  /** Extra TLS options for HTTPS webhooks (CA bundle, client certificate). */
  readonly tls?: ConnectionOptions;
  /**
   * Per-target credentials and TLS (the `outbound` settings): the headers it gives for a
   * webhook URL are added to the delivery, its TLS (CA bundle, client certificate) used for
   * the connection. The SSRF rules apply all the same.
   */
  readonly outbound?: { for(url: string): OutboundCall };
  /** Signs a delivery: the JWT for `aud` = webhook URL and the task id (push.signDeliveries). */
  readonly deliveryToken?: (url: string, taskId: string) => Promise<string>;
}

/** A refusal raised inside the connector, carried through undici to {@link WebhookDispatcher.post}. */
class Refused extends Error {
  constructor(
    readonly reason: RefusalReason,
    readonly target: string,
  ) {
    super(`webhook target ${target} is ${REFUSAL_TEXT[reason]}`);
  }
}

/** The catalogue error for a refused target, naming why and how to allow it. */
export function targetRefused(reason: RefusalReason, target: string): AgentdError {
  const hint = reason === 'redirect' ? '' : '; an operator can allow it with push.allow (AGENTD_PUSH_ALLOW)';
  return err(
    'PUSH_TARGET_REFUSED',
    `Webhook target ${target} is refused: it is ${REFUSAL_TEXT[reason]}${hint}`,
    {
      reason,
    },
  );
}

const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

export class WebhookDispatcher implements WebhookTransport {
  private readonly allow: AllowList;
  private readonly resolve: Resolver;
  /** Connectors by TLS settings (`undefined`: the defaults) and port. */
  private readonly connectors = new Map<OutboundTls | undefined, Map<number, buildConnector.connector>>();
  /** One pool per TLS settings, so a target's client certificate goes to that target only. */
  private readonly agents = new Map<OutboundTls | undefined, Agent>();

  constructor(private readonly options: WebhookDispatcherOptions) {
    this.allow = new AllowList(options.allow);
    this.resolve = options.resolve ?? systemResolver;
  }

  private agentFor(tls: OutboundTls | undefined): Agent {
    let agent = this.agents.get(tls);
    if (!agent) {
      agent = new Agent({
        connect: (opts, callback) => this.connect(opts, callback, tls),
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
        maxRedirections: 0,
      });
      this.agents.set(tls, agent);
    }
    return agent;
  }

  /** Throws PUSH_TARGET_REFUSED when the URL names a refused address or host (no lookup made). */
  check(url: string): void {
    const parsed = new URL(url);
    const reason = refusedUrl(parsed, this.allow);
    if (reason) throw targetRefused(reason, parsed.host);
  }

  async post(
    url: string,
    headers: Record<string, string>,
    body: string,
    signal: AbortSignal,
  ): Promise<number> {
    this.check(url);
    const target = this.options.outbound?.for(url);
    const tls = target && (target.tls.ca || target.tls.cert) ? target.tls : undefined;
    // The config's own credentials (set by the client) win over per-target ones.
    let sent = headers;
    if (target) {
      sent = { ...target.headers };
      for (const [name, value] of Object.entries(headers)) sent[name.toLowerCase()] = value;
    }
    try {
      const res = await request(url, {
        method: 'POST',
        headers: sent,
        body,
        signal,
        dispatcher: this.agentFor(tls),
      });
      await drain(res.body, this.options.maxResponseBytes);
      if (res.statusCode >= 300 && res.statusCode < 400) throw targetRefused('redirect', new URL(url).host);
      return res.statusCode;
    } catch (error) {
      if (isAgentdError(error, 'PUSH_TARGET_REFUSED')) throw error;
      const refused = findRefused(error);
      if (refused) throw targetRefused(refused.reason, refused.target);
      throw error;
    }
  }

  async token(url: string, taskId: string): Promise<string | undefined> {
    return this.options.deliveryToken?.(url, taskId);
  }

  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.destroy()));
  }

  private connect(
    opts: buildConnector.Options,
    callback: buildConnector.Callback,
    tls: OutboundTls | undefined,
  ): void {
    const host = opts.hostname.replace(/^\[|\]$/g, '');
    const port = Number(opts.port) || (opts.protocol === 'https:' ? 443 : 80);
    const target = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
    const hostAllowed = this.allow.allowsHost(host, port);
    if (!hostAllowed) {
      const reason = isIP(host) ? this.refusedAddress(host, port) : classifyName(host);
      if (
        reason &&
        !(reason === 'loopback' && !isIP(host) && this.allow.allowsAddress('127.0.0.1', reason, port))
      ) {
        callback(new Refused(reason, target), null);
        return;
      }
    }
    this.connectorFor(hostAllowed ? 0 : port, tls)(opts, (error, socket) => {
      if (error || !socket) {
        callback(error ?? new Error('connection failed'), null);
        return;
      }
      // The peer actually connected to, checked again: nothing reaches a refused address.
      const peer = socket.remoteAddress;
      const reason = hostAllowed || peer === undefined ? undefined : this.refusedAddress(peer, port);
      if (reason) {
        socket.destroy();
        callback(new Refused(reason, target), null);
        return;
      }
      callback(null, socket);
    });
  }

  /** Why this address is refused for this port, allow-list considered. */
  private refusedAddress(address: string, port: number): RefusalReason | undefined {
    const reason = classifyAddress(address);
    return reason && !this.allow.allowsAddress(address, reason, port) ? reason : undefined;
  }

  /** A connector whose lookup keeps only the addresses allowed on `port` (0: host allowed, any address). */
  private connectorFor(port: number, tls: OutboundTls | undefined): buildConnector.connector {
    let byPort = this.connectors.get(tls);
    if (!byPort) this.connectors.set(tls, (byPort = new Map()));
    let connector = byPort.get(port);
    if (!connector) {
      connector = buildConnector({
        ...this.options.tls,
        ...(tls?.ca ? { ca: [...tls.ca] } : {}),
        ...(tls?.cert ? { cert: tls.cert, key: tls.key } : {}),
        timeout: this.options.timeoutMs,
        lookup: this.guardedLookup(port),
      });
      byPort.set(port, connector);
    }
    return connector;
  }

  private guardedLookup(port: number): LookupFunction {
    return (hostname, options, callback) => {
      this.resolve(hostname).then(
        (found) => {
          const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
          const usable = found.filter((a) => !family || a.family === family);
          const allowed = port === 0 ? usable : usable.filter((a) => !this.refusedAddress(a.address, port));
          const first = allowed[0];
          if (!first) {
            const reason = usable[0]
              ? (this.refusedAddress(usable[0].address, port) ?? 'unresolvable')
              : 'unresolvable';
            const error = Object.assign(new Refused(reason, `${hostname}:${port}`), { code: 'EREFUSED' });
            callback(error, '', 0);
            return;
          }
          if (options.all) (callback as (e: null, a: LookupAddress[]) => void)(null, allowed);
          else callback(null, first.address, first.family);
        },
        (error: NodeJS.ErrnoException) => callback(error, '', 0),
      );
    };
  }
}

function findRefused(error: unknown): Refused | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof Refused) return e;
  }
  return undefined;
}

/** Reads and drops the body, at most `max` bytes; a longer body's connection is closed. */
async function drain(body: AsyncIterable<Buffer> & { destroy(): void }, max: number): Promise<void> {
  let seen = 0;
  for await (const chunk of body) {
    seen += chunk.length;
    if (seen > max) {
      body.destroy();
      return;
    }
  }
}
