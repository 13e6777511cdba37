/**
 * TLS for agentd's listeners, from one {@link TlsReloader}: the HTTPS server options and
 * their reload through `setSecureContext` (gRPC's credentials are in tls-grpc.ts, loaded
 * only when gRPC is served). Reloading changes what new connections are served; open
 * connections (a long SSE stream, a gRPC stream) keep the session they negotiated.
 */
import type { Server as HttpsServer, ServerOptions as HttpsServerOptions } from 'node:https';
import type { SecureContextOptions } from 'node:tls';
import type { TlsMaterial, TlsReloader } from './tls-files.js';

/** `required`: a client without a certificate from the client CA cannot connect; `optional`: it may (other schemes apply). */
export type ClientAuth = 'required' | 'optional';

/** What a listener needs to serve TLS: the material (kept current) and the mTLS mode. */
export interface ServerTls {
  readonly reloader: TlsReloader;
  /** Asked for only when the material has a client CA. */
  readonly clientAuth: ClientAuth;
}

function contextOptions(m: TlsMaterial): SecureContextOptions {
  return { cert: m.cert, key: m.key, ...(m.ca ? { ca: m.ca } : {}) };
}

/**
 * Options for `https.createServer` (fastify's `https`): the current material and, with a
 * client CA, a certificate request. In `optional` mode Node completes the handshake of a
 * client without a (valid) certificate, and `socket.authorized` tells the two apart.
 */
export function httpsServerOptions(tls: ServerTls): HttpsServerOptions {
  const material = tls.reloader.current;
  const mtls = material.ca !== undefined;
  return {
    ...contextOptions(material),
    requestCert: mtls,
    rejectUnauthorized: mtls && tls.clientAuth === 'required',
  };
}

/**
 * Follows the reloader on an HTTPS server: each new material becomes the context of new
 * connections. Returns the unsubscribe function (call it when the server closes).
 */
export function reloadHttpsServer(server: HttpsServer, tls: ServerTls): () => void {
  return tls.reloader.onChange((m) => server.setSecureContext(contextOptions(m)));
}
