/**
 * Rate limits on the HTTP port (see src/security/rate-limit.ts), in two hooks:
 *
 * - the client address's buckets in an `onRequest` hook. It must be added BEFORE the
 *   authentication hook (fastify runs onRequest hooks in the order they were added), so that
 *   requests authentication refuses, such as guessed API keys, are limited too;
 * - the principal's buckets in a `preParsing` hook. fastify runs every onRequest hook before
 *   any preParsing one, whatever order they were added in, so authentication has always set
 *   `request.principal` by then; and the body is not read yet, so a refused client costs no
 *   parsing.
 *
 * Probes are never limited. A refusal is HTTP 429 with `Retry-After` and the RATE_LIMITED
 * error in the binding's shape (JSON-RPC envelope on `POST /a2a/<agent>`, `google.rpc.Status`
 * elsewhere). Both hooks are callback style: a refused request never calls `done`, so nothing
 * after the hook runs, whatever onSend hooks delay the end of the response.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { clientAddress } from '../../security/client-ip.js';
import { retryAfterOf, type LimitKind, type RateLimitGuard } from '../../security/rate-limit.js';
import { toAgentdError } from '../../errors.js';
import { sendHttpError } from './http-errors.js';

/** The agent a request addresses: the `:agent` of the `/a2a/:agent...` routes. */
function agentOf(request: FastifyRequest): string | undefined {
  const params = request.params as Record<string, unknown> | undefined;
  const agent = params && Object.hasOwn(params, 'agent') ? params.agent : undefined;
  return typeof agent === 'string' ? agent : undefined;
}

/** Adds the rate-limit hooks to `app`; `exempt` paths (the probes) are never limited. */
export function registerRateLimit(
  app: FastifyInstance,
  guard: RateLimitGuard,
  logger: Logger,
  exempt: ReadonlySet<string>,
): void {
  const check = (request: FastifyRequest, reply: FastifyReply, kind: LimitKind, next: () => void): void => {
    if (exempt.has(request.url.split('?')[0] ?? '')) {
      next();
      return;
    }
    const subject = {
      ip: clientAddress(
        request.socket.remoteAddress,
        request.headers['x-forwarded-for'],
        guard.trustedProxies,
      ),
      principal: request.principal,
      agent: agentOf(request),
    };
    guard.check(subject, [kind]).then(next, (error: unknown) => {
      const seconds = retryAfterOf(toAgentdError(error));
      if (seconds !== undefined) reply.header('retry-after', String(seconds));
      sendHttpError(logger, request, reply, error);
    });
  };
  if (guard.limits('ip')) {
    app.addHook('onRequest', (request, reply, done) => check(request, reply, 'ip', () => done()));
  }
  if (guard.limits('principal')) {
    app.addHook('preParsing', (request, reply, payload, done) =>
      check(request, reply, 'principal', () => done(null, payload)),
    );
  }
}
