/**
 * mTLS: a client certificate the TLS layer verified becomes a principal. `san` takes the
 * first URI SAN (a SPIFFE id), else the first DNS SAN, else the subject CN; `subject` takes
 * the CN. The scopes are the configured `auth.mtls.scopes`.
 */
import type { AuthConfig } from './auth-config.js';
import type { PeerIdentity, Principal } from './principal.js';

/** The principal a verified peer certificate authenticates as, or undefined when it names nobody. */
export function principalFromPeer(
  peer: PeerIdentity,
  mtls: AuthConfig['mtls'],
  adminScope: string,
): Principal | undefined {
  const id =
    mtls.principalFrom === 'san' ? (peer.uris[0] ?? peer.dnsNames[0] ?? peer.commonName) : peer.commonName;
  if (id === undefined || id === '') return undefined;
  const scopes = new Set(mtls.scopes);
  return Object.freeze({ id, scheme: 'mtls', scopes, admin: scopes.has('*') || scopes.has(adminScope) });
}
