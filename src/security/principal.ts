/**
 * Who is calling: the identity an authentication scheme proved, and what it may do.
 * Transports authenticate each request and put the principal in the SDK's
 * `ServerCallContext.state` under PRINCIPAL_STATE_KEY; the engine reads it back to stamp
 * task ownership and check scopes. With no authentication configured every caller is
 * ANONYMOUS, which owns nothing and may do everything (the open mode).
 */
import { TLSSocket, type PeerCertificate } from 'node:tls';
import type { ServerCallContext } from '@a2a-js/sdk/server';
import type { FastifyRequest } from 'fastify';

/**
 * How a principal proved who it is. `unknown`: an authenticated caller restored from a task
 * queued by a replica that did not record how (see principal-record.ts).
 */
export type AuthScheme = 'apiKey' | 'jwt' | 'mtls' | 'unknown' | 'none';

export interface Principal {
  /** Stable identity: the API key's principal, the JWT `sub`, the certificate's subject/SAN. */
  readonly id: string;
  readonly scheme: AuthScheme;
  /** Granted scopes (`scope`/`scp` claims, the key's scopes); `*` grants every agent scope. */
  readonly scopes: ReadonlySet<string>;
  /** Whether this principal sees and manages every task (the configured admin scope). */
  readonly admin: boolean;
}

/** The caller when no authentication is configured: sees everything, owns nothing. */
export const ANONYMOUS: Principal = Object.freeze({
  id: '',
  scheme: 'none',
  scopes: new Set<string>(['*']),
  admin: true,
});

/** Key under which transports put the caller's Principal in `ServerCallContext.state`. */
export const PRINCIPAL_STATE_KEY = 'agentd.principal';

/** The caller of a request; ANONYMOUS when its transport authenticated nobody (open mode). */
export function principalOf(ctx: ServerCallContext | undefined): Principal {
  const p = ctx?.state.get(PRINCIPAL_STATE_KEY);
  return isPrincipal(p) ? p : ANONYMOUS;
}

function isPrincipal(value: unknown): value is Principal {
  return typeof value === 'object' && value !== null && 'id' in value && 'scopes' in value;
}

/** Whether `principal` holds `scope` (or the wildcard). */
export function hasScope(principal: Principal, scope: string): boolean {
  return principal.scopes.has('*') || principal.scopes.has(scope);
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The caller, set by the authentication hook (onRequest) before any route or later hook
     * runs; undefined in the open mode and on the open paths (probes, public cards).
     */
    principal?: Principal | undefined;
  }
}

/**
 * A client certificate the TLS layer verified against `tls.clientCaFile` (mTLS): what the
 * authenticator maps to a principal. Only verified certificates become a PeerIdentity.
 */
export interface PeerIdentity {
  /** Subject CN, when present. */
  readonly commonName: string | undefined;
  /** DNS names of the subjectAltName extension, in order. */
  readonly dnsNames: readonly string[];
  /** URI names of the subjectAltName extension (e.g. SPIFFE ids), in order. */
  readonly uris: readonly string[];
  /** SHA-256 fingerprint, colon-separated hex (as Node reports it). */
  readonly fingerprint256: string;
}

/**
 * The PeerIdentity of a certificate Node reports (`TLSSocket.getPeerCertificate()`), or
 * undefined when there is none (an empty object is Node's "no certificate").
 */
export function peerIdentityOf(cert: PeerCertificate | undefined): PeerIdentity | undefined {
  if (!cert?.raw || !cert.fingerprint256) return undefined;
  const dnsNames: string[] = [];
  const uris: string[] = [];
  // `subjectaltname` is "DNS:a, URI:spiffe://x, IP Address:1.2.3.4"; values may be quoted
  // JSON strings when they contain a comma or quote.
  for (const entry of splitAltNames(cert.subjectaltname ?? '')) {
    const colon = entry.indexOf(':');
    if (colon < 0) continue;
    const kind = entry.slice(0, colon);
    let value = entry.slice(colon + 1);
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        continue;
      }
    }
    if (kind === 'DNS') dnsNames.push(value);
    else if (kind === 'URI') uris.push(value);
  }
  const cn = cert.subject?.CN;
  return {
    commonName: Array.isArray(cn) ? cn[0] : cn || undefined,
    dnsNames,
    uris,
    fingerprint256: cert.fingerprint256,
  };
}

function splitAltNames(text: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '"' && text[i - 1] !== '\\') quoted = !quoted;
    if (c === ',' && !quoted) {
      out.push(current.trim());
      current = '';
    } else current += c;
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

/**
 * The verified client certificate of an HTTPS request (mTLS), or undefined: on plain HTTP,
 * without a certificate, or with one that did not verify against `tls.clientCaFile` (the
 * `optional` mode lets such clients connect; they are not identified by it).
 */
export function peerIdentityFromRequest(request: FastifyRequest): PeerIdentity | undefined {
  const socket = request.raw.socket;
  if (!(socket instanceof TLSSocket) || !socket.authorized) return undefined;
  return peerIdentityOf(socket.getPeerCertificate());
}

/**
 * The verified client certificate of a gRPC call (mTLS), or undefined. grpc-js reports a
 * peer certificate in the call's auth context only when its TLS socket is authorized.
 */
export function peerIdentityFromGrpcCall(call: {
  getAuthContext(): { transportSecurityType?: string; sslPeerCertificate?: PeerCertificate } | null;
}): PeerIdentity | undefined {
  const auth = call.getAuthContext();
  if (auth?.transportSecurityType !== 'ssl') return undefined;
  return peerIdentityOf(auth.sslPeerCertificate);
}
