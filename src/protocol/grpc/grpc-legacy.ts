/**
 * The v0.3 gRPC service, for clients of the SDK's v0.3 compat layer: they have no tenant
 * field, so they reach the default agent. Served by the SDK's compat service over the same
 * engine, with the same authentication and rate limits as the v1.0 service.
 */
import type * as grpc from '@grpc/grpc-js';
import type { AgentCard } from '@a2a-js/sdk';
import { duplicateInterfacesForLegacy } from '@a2a-js/sdk/compat/v0_3';
import { AgentRequestHandler } from '../../engine/agent-request-handler.js';
import type { HostedAgent } from '../../engine/hosted-agent.js';
import type { TaskEngine } from '../../engine/task-engine.js';
import { PRINCIPAL_STATE_KEY } from '../../security/principal.js';
import type { RateLimitGuard } from '../../security/rate-limit.js';
import { PrincipalUser } from '../../security/sdk-user.js';
import { authenticateCall, type GrpcAuth, type GrpcCall } from './grpc-auth.js';
import { limitedImplementation } from './grpc-rate-limit.js';

export interface LegacyServiceOptions {
  readonly engine: TaskEngine;
  readonly defaultAgent: HostedAgent;
  /** Authentication when it is on (undefined: the open mode). */
  readonly auth: GrpcAuth | undefined;
  readonly rateLimit: RateLimitGuard | undefined;
  readonly toGrpcError: (error: unknown) => Partial<grpc.StatusObject>;
}

/** Adds the v0.3 service to `server` (the SDK's compat modules load only here). */
export async function addLegacyService(server: grpc.Server, options: LegacyServiceOptions): Promise<void> {
  const { legacyGrpcService, LegacyA2AService } = await import('@a2a-js/sdk/compat/v0_3/server/grpc');
  const { UserBuilder } = await import('@a2a-js/sdk/server/grpc');
  const { defaultServerCallContextBuilder } = await import('@a2a-js/sdk/server');
  const { auth, rateLimit } = options;
  const legacy = legacyGrpcService({
    requestHandler: new LegacyGrpcRequestHandler(options.engine, options.defaultAgent),
    userBuilder: auth
      ? async (call) => new PrincipalUser(await authenticateCall(auth, call as GrpcCall))
      : UserBuilder.noAuthentication,
    // The engine reads the caller from the context's state, as for every other transport.
    contextBuilder: (o) => {
      const ctx = defaultServerCallContextBuilder(o);
      if (o.user instanceof PrincipalUser) ctx.state.set(PRINCIPAL_STATE_KEY, o.user.principal);
      return ctx;
    },
  });
  server.addService(
    LegacyA2AService,
    rateLimit
      ? limitedImplementation(
          LegacyA2AService,
          legacy,
          rateLimit,
          options.defaultAgent.name,
          options.toGrpcError,
        )
      : legacy,
  );
}

/**
 * The default agent as the SDK's v0.3 gRPC service sees it. That service refuses every call
 * unless the agent card lists a GRPC interface of the requested version (0.3), while the
 * public card lists gRPC as 1.0 only: per agent, by tenant, which v0.3 clients cannot send.
 */
class LegacyGrpcRequestHandler extends AgentRequestHandler {
  override async getAgentCard(): Promise<AgentCard> {
    const card = await super.getAgentCard();
    return { ...card, supportedInterfaces: duplicateInterfacesForLegacy(card.supportedInterfaces, ['GRPC']) };
  }
}
