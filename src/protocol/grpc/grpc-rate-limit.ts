/**
 * Rate limits on the gRPC port (see src/security/rate-limit.ts): the check a call makes once
 * its agent and principal are known, the `google.rpc.RetryInfo` a refusal carries next to its
 * ErrorInfo in `grpc-status-details-bin`, and the wrapper that limits the v0.3 compat service.
 */
import * as grpc from '@grpc/grpc-js';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { clientAddress, grpcPeerHost } from '../../security/client-ip.js';
import type { Principal } from '../../security/principal.js';
import type { RateLimitGuard } from '../../security/rate-limit.js';

/** `Any.type_url` of `google.rpc.RetryInfo`. */
export const RETRY_INFO_TYPE = 'type.googleapis.com/google.rpc.RetryInfo';

/** Checks a call against the rate limits; rejects with RATE_LIMITED. */
export function admitCall(
  guard: RateLimitGuard,
  call: { getPeer(): string; metadata: grpc.Metadata },
  agent: string | undefined,
  principal: Principal | undefined,
): Promise<void> {
  const forwarded = call.metadata.get('x-forwarded-for').map(String);
  return guard.check({
    ip: clientAddress(
      grpcPeerHost(call.getPeer()),
      forwarded.length > 0 ? forwarded : undefined,
      guard.trustedProxies,
    ),
    principal,
    agent,
  });
}

/**
 * `status` (an encoded `google.rpc.Status`) with a `RetryInfo{retry_delay: seconds}` detail
 * appended: a repeated field may be continued by concatenating its encoded elements.
 */
export function withRetryInfo(status: Buffer, seconds: number): Buffer {
  const duration = new BinaryWriter().uint32(8).int64(seconds).finish();
  const retryInfo = new BinaryWriter().uint32(10).bytes(duration).finish();
  const any = new BinaryWriter().uint32(10).string(RETRY_INFO_TYPE).uint32(18).bytes(retryInfo).finish();
  return Buffer.concat([status, new BinaryWriter().uint32(26).bytes(any).finish()]);
}

/**
 * A service implementation whose every handler first passes the rate limits (by client
 * address; the legacy service authenticates no principal we can see): unary and
 * server-streaming handlers only, which is all the A2A services have.
 */
export function limitedImplementation(
  service: grpc.ServiceDefinition,
  implementation: grpc.UntypedServiceImplementation,
  guard: RateLimitGuard,
  agent: string,
  toGrpcError: (error: unknown) => Partial<grpc.StatusObject>,
): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  for (const [name, handler] of Object.entries(implementation)) {
    const def = service[name];
    if (!def || def.requestStream) {
      out[name] = handler;
      continue;
    }
    if (def.responseStream) {
      const stream = handler as grpc.handleServerStreamingCall<unknown, unknown>;
      out[name] = ((call) =>
        void admitCall(guard, call, agent, undefined).then(
          () => stream(call),
          (error: unknown) => call.emit('error', toGrpcError(error)),
        )) as grpc.handleServerStreamingCall<unknown, unknown>;
    } else {
      const unary = handler as grpc.handleUnaryCall<unknown, unknown>;
      out[name] = ((call, callback) =>
        void admitCall(guard, call, agent, undefined).then(
          () => unary(call, callback),
          (error: unknown) => callback(toGrpcError(error)),
        )) as grpc.handleUnaryCall<unknown, unknown>;
    }
  }
  return out;
}
