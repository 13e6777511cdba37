/**
 * Authentication on the HTTP port: one `onRequest` hook that authenticates every request
 * except the open paths (probes, public agent cards, the JWKS), and sets `request.principal`.
 * Failures get the catalogue's UNAUTHENTICATED in the binding's shape (a JSON-RPC error on
 * the JSON-RPC and MCP endpoints, `google.rpc.Status` elsewhere) with `WWW-Authenticate`;
 * PERMISSION_DENIED answers (403) carry an `insufficient_scope` challenge. Credentials are
 * never logged.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Authenticator, Credentials } from '../../security/authenticator.js';
import type { PeerIdentity, Principal } from '../../security/principal.js';
import { sendHttpError } from './http-errors.js';

/** Paths anyone may read: probes, public cards, the card-signing JWKS. */
const OPEN_PATHS: ReadonlySet<string> = new Set([
  '/health',
  '/ready',
  '/startup',
  '/.well-known/agent-card.json',
  '/.well-known/jwks.json',
  '/a2a/.well-known/agent-card.json',
]);
const AGENT_CARD = /^\/a2a\/[^/]+\/\.well-known\/(?:\.well-known\/)?agent-card\.json$/;

/** Whether a request path is served without authentication. */
export function isOpenPath(url: string): boolean {
  let path = url.split('?')[0] ?? '';
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return OPEN_PATHS.has(path) || AGENT_CARD.test(path);
}

export interface HttpAuthOptions {
  readonly authenticator: Authenticator;
  readonly logger: Logger;
  /** The verified client certificate of the request's connection (the TLS layer's), if any. */
  readonly peerOf?: ((request: FastifyRequest) => PeerIdentity | undefined) | undefined;
}

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The credentials an HTTP request carries. */
export function httpCredentials(request: FastifyRequest, peerOf: HttpAuthOptions['peerOf']): Credentials {
  return {
    apiKey: header(request, 'x-api-key'),
    authorization: header(request, 'authorization'),
    peer: peerOf?.(request),
  };
}

/** Registers the hook (after the drain hook, so a draining server answers 503 first). */
export function registerHttpAuth(app: FastifyInstance, options: HttpAuthOptions): void {
  const { authenticator, logger, peerOf } = options;
  app.addHook('onRequest', (request, reply, done) => {
    if (isOpenPath(request.url)) {
      done();
      return;
    }
    const fail = (error: unknown): void => {
      sendHttpError(logger, request, reply, error);
    };
    let result: Principal | Promise<Principal>;
    try {
      result = authenticator.authenticate(httpCredentials(request, peerOf));
    } catch (error) {
      fail(error);
      return;
    }
    if (result instanceof Promise) {
      result.then((principal) => {
        request.principal = principal;
        done();
      }, fail);
    } else {
      request.principal = result;
      done();
    }
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    const status = reply.statusCode;
    if ((status === 401 || status === 403) && !reply.hasHeader('www-authenticate')) {
      const challenges = authenticator.challenges(status === 403 ? 'insufficient_scope' : undefined);
      if (challenges.length > 0) reply.header('www-authenticate', challenges);
    }
    done(null, payload);
  });
}
