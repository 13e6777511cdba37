/**
 * Rate limits on the HTTP port (see src/security/rate-limit.ts). The check runs as a
 * `preParsing` hook: fastify runs every `onRequest` hook first, whatever order they were
 * added in, so the authentication hook (onRequest, sets `request.principal`) has always run
 * and per-principal limits see the caller; and the body is not read yet, so a refused client
 * costs no parsing. Probes are never limited. A refusal is HTTP 429 with `Retry-After` and
 * the RATE_LIMITED error in the binding's shape (JSON-RPC envelope on `POST /a2a/<agent>`,
 * `google.rpc.Status` elsewhere).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { clientAddress } from '../../security/client-ip.js';
import { retryAfterOf, type RateLimitGuard } from '../../security/rate-limit.js';
import { toAgentdError } from '../../errors.js';
import { sendHttpError } from './http-errors.js';

/** The agent a request addresses: the `:agent` of the `/a2a/:agent...` routes. */
function agentOf(request: FastifyRequest): string | undefined {
  const params = request.params as Record<string, unknown> | undefined;
  const agent = params && Object.hasOwn(params, 'agent') ? params.agent : undefined;
  return typeof agent === 'string' ? agent : undefined;
}

/** Adds the rate-limit check to `app`; `exempt` paths (the probes) are never limited. */
export function registerRateLimit(
  app: FastifyInstance,
  guard: RateLimitGuard,
  logger: Logger,
  exempt: ReadonlySet<string>,
): void {
  // Callback style: a refused request never calls `done`, so nothing after this hook runs,
  // whatever onSend hooks delay the end of the response.
  app.addHook('preParsing', (request, reply, payload, done) => {
    if (exempt.has(request.url.split('?')[0] ?? '')) {
      done(null, payload);
      return;
    }
    guard
      .check({
        ip: clientAddress(request.socket.remoteAddress, request.headers['x-forwarded-for'], guard.trustProxy),
        principal: request.principal,
        agent: agentOf(request),
      })
      .then(
        () => done(null, payload),
        (error: unknown) => {
          const seconds = retryAfterOf(toAgentdError(error));
          if (seconds !== undefined) reply.header('retry-after', String(seconds));
          sendHttpError(logger, request, reply, error);
        },
      );
  });
}
