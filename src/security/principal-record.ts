/**
 * A caller's principal as the work queue carries it, so the replica that runs a task —
 * whichever took it from the queue, took it over, or resumed it after a drain — gives its
 * agent the caller who sent the message. Only who the caller is and what it may do travel:
 * id, scheme, scopes and the admin flag; never a credential.
 */
import { ANONYMOUS, type AuthScheme, type Principal } from './principal.js';

/** The JSON form of an authenticated principal in a queued request. */
export interface PrincipalRecord {
  readonly id: string;
  readonly scheme: AuthScheme;
  readonly scopes: readonly string[];
  readonly admin: boolean;
}

/**
 * Bounds on what a record carries, so a token with a huge `scope` claim cannot bloat every
 * queue entry. A scope over the length bound, or past the count, is left out rather than
 * cut short: a shortened name could be another scope, and a missing one only grants less.
 * The admin flag is recorded on its own, so it never depends on which scopes fit.
 */
export const MAX_RECORDED_SCOPES = 64;
export const MAX_RECORDED_SCOPE_LENGTH = 256;

const RECORDED_SCHEMES: ReadonlySet<string> = new Set<AuthScheme>(['apiKey', 'jwt', 'mtls', 'unknown']);

/** The record of `principal`; undefined for the open mode's anonymous caller (nothing to carry). */
export function principalRecord(principal: Principal): PrincipalRecord | undefined {
  if (principal.scheme === 'none') return undefined;
  const scopes: string[] = [];
  // The wildcard first: it is the scope that matters most when the bound cuts the list.
  if (principal.scopes.has('*')) scopes.push('*');
  for (const scope of principal.scopes) {
    if (scopes.length >= MAX_RECORDED_SCOPES) break;
    if (scope !== '*' && scope.length <= MAX_RECORDED_SCOPE_LENGTH) scopes.push(scope);
  }
  return { id: principal.id, scheme: principal.scheme, scopes, admin: principal.admin };
}

/**
 * The principal a queued request was sent by. A request queued by a replica that did not
 * record the caller (an older version) falls back to its task's owner, with no scopes, no
 * admin flag and the scheme `unknown`; without an owner either, to the anonymous caller.
 * A record that is not well formed is treated as absent.
 */
export function principalFromRecord(record: unknown, owner: string | undefined): Principal {
  if (isRecord(record)) {
    return Object.freeze({
      id: record.id,
      scheme: record.scheme,
      scopes: new Set(record.scopes.slice(0, MAX_RECORDED_SCOPES)),
      admin: record.admin,
    });
  }
  if (owner) return Object.freeze({ id: owner, scheme: 'unknown', scopes: new Set<string>(), admin: false });
  return ANONYMOUS;
}

function isRecord(value: unknown): value is PrincipalRecord {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r.id === 'string' &&
    r.id !== '' &&
    typeof r.scheme === 'string' &&
    RECORDED_SCHEMES.has(r.scheme) &&
    typeof r.admin === 'boolean' &&
    Array.isArray(r.scopes) &&
    r.scopes.every((s) => typeof s === 'string')
  );
}
