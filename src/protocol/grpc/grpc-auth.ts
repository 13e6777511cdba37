/**
 * Authentication of a gRPC call: the credentials in its metadata (`x-api-key`,
 * `authorization: Bearer <jwt>`) or the verified client certificate of its connection.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Authenticator } from '../../security/authenticator.js';
import type { PeerIdentity, Principal } from '../../security/principal.js';

/** A call as authentication sees it (unary or server streaming). */
export type GrpcCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

export interface GrpcAuth {
  readonly authenticator: Authenticator;
  /** The verified client certificate of the call's connection (the TLS layer's), if any. */
  readonly peerOf?: ((call: GrpcCall) => PeerIdentity | undefined) | undefined;
}

/** The first value of a metadata key, as text. */
function metadataValue(metadata: grpc.Metadata, key: string): string | undefined {
  const v = metadata.get(key)[0];
  return v === undefined ? undefined : String(v);
}

/** The caller of a call, or throws UNAUTHENTICATED. */
export function authenticateCall(auth: GrpcAuth, call: GrpcCall): Principal | Promise<Principal> {
  return auth.authenticator.authenticate({
    apiKey: metadataValue(call.metadata, 'x-api-key'),
    authorization: metadataValue(call.metadata, 'authorization'),
    peer: auth.peerOf?.(call),
  });
}
