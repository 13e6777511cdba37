/**
 * The gRPC side of the test vocabulary: closing the channel behind an official SDK client
 * (`clientFor(url, 'GRPC')` in sdk-client.ts makes one), and a raw grpc-js client on the
 * SDK's own service definition (`lf.a2a.v1.A2AService`) for tests that must see exact
 * status codes, the `grpc-status-details-bin` trailer, deadlines, cancellation and the
 * encoded messages themselves.
 */
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import * as grpc from '@grpc/grpc-js';
import type { StreamResponse } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { decodeErrorInfo, decodeStatus, GRPC_STATUS_DETAILS_BIN } from '@a2a-js/sdk/errors/grpc';
import { A2AService } from '@a2a-js/sdk/server/grpc';
import { expect } from 'vitest';
import { A2A_DOMAIN, ERROR_INFO_TYPE } from './wire.js';

/**
 * Closes the gRPC channel behind an SDK client. The SDK's `Client` has no `close()`; its
 * gRPC transport (possibly inside the tenant decorator, as `base`) holds a grpc-js client.
 * Clients of other transports have nothing to close.
 */
export function closeSdkClient(client: Client): void {
  closeTransport(client.transport);
}

/** Closes the grpc-js client inside an SDK gRPC transport (v1.0 or the v0.3 compat one). */
export function closeTransport(transport: { readonly protocolName: string }): void {
  if (transport.protocolName !== 'GRPC') return;
  let inner: unknown = transport;
  while (typeof inner === 'object' && inner !== null && 'base' in inner) inner = inner.base;
  const grpcClient = (inner as { grpcClient?: unknown }).grpcClient;
  // Fails loudly if a new SDK version moves the channel, rather than leaking it silently.
  if (!(grpcClient instanceof grpc.Client))
    throw new Error('no grpc-js client found inside the SDK gRPC transport');
  grpcClient.close();
}

type Service = typeof A2AService;
type UnaryName = {
  [K in keyof Service]: Service[K]['responseStream'] extends false ? K : never;
}[keyof Service];
type StreamName = 'sendStreamingMessage' | 'subscribeToTask';
type RequestOf<K extends keyof Service> = Parameters<Service[K]['requestSerialize']>[0];
type ResponseOf<K extends keyof Service> = ReturnType<Service[K]['responseDeserialize']>;

/** Per-call options: A2A service parameters as metadata, a deadline in ms from now, a cancel signal. */
export interface CallOptions {
  readonly metadata?: Record<string, string>;
  readonly deadlineMs?: number;
  /** Aborting it cancels the call from the client side. */
  readonly signal?: AbortSignal;
}

/** A raw grpc-js client built from the SDK's service definition, typed per method. */
export class RawGrpcClient {
  readonly client: grpc.Client;

  constructor(
    address: string,
    channelOptions: grpc.ChannelOptions = {},
    credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  ) {
    const Client = grpc.makeGenericClientConstructor(A2AService, 'A2AService');
    this.client = new Client(address, credentials, channelOptions);
  }

  /** One unary call; rejects with the grpc-js `ServiceError`. */
  unary<K extends UnaryName>(
    method: K,
    request: RequestOf<K>,
    options: CallOptions = {},
  ): Promise<ResponseOf<K>> {
    return this.call(
      method,
      request,
      A2AService[method].responseDeserialize as (b: Buffer) => ResponseOf<K>,
      options,
    );
  }

  /** One unary call answered with the encoded response, for tests that read the wire itself. */
  unaryBytes<K extends UnaryName>(
    method: K,
    request: RequestOf<K>,
    options: CallOptions = {},
  ): Promise<Buffer> {
    return this.call(method, request, (bytes) => bytes, options);
  }

  private call<K extends UnaryName, R>(
    method: K,
    request: RequestOf<K>,
    deserialize: (bytes: Buffer) => R,
    options: CallOptions,
  ): Promise<R> {
    const def = A2AService[method];
    return new Promise((resolve, reject) => {
      const call = this.client.makeUnaryRequest(
        def.path,
        def.requestSerialize as (value: RequestOf<K>) => Buffer,
        deserialize,
        request,
        metadataOf(options),
        callOptionsOf(options),
        (error, response) => (error ? reject(error) : resolve(response as R)),
      );
      options.signal?.addEventListener('abort', () => call.cancel(), { once: true });
    });
  }

  /** The error a unary call fails with; fails the test if the call succeeds. */
  async unaryError<K extends UnaryName>(
    method: K,
    request: RequestOf<K>,
    options: CallOptions = {},
  ): Promise<grpc.ServiceError> {
    try {
      const response = await this.unary(method, request, options);
      throw new Error(`expected ${method} to fail, but it answered ${JSON.stringify(response)}`);
    } catch (error) {
      if (isServiceError(error)) return error;
      throw error;
    }
  }

  /** Opens a server stream. */
  stream(method: StreamName, request: RequestOf<StreamName>, options: CallOptions = {}): GrpcStream {
    const def = A2AService[method];
    const call = this.client.makeServerStreamRequest(
      def.path,
      def.requestSerialize as (value: RequestOf<StreamName>) => Buffer,
      def.responseDeserialize as (value: Buffer) => StreamResponse,
      request,
      metadataOf(options),
      callOptionsOf(options),
    );
    return new GrpcStream(call);
  }

  close(): void {
    this.client.close();
  }
}

/**
 * A server stream read one event at a time. `next()` resolves with the next event, or
 * undefined once the server has ended the stream with OK; it rejects with the
 * `ServiceError` when the call ends with any other status.
 */
export class GrpcStream {
  /** The call's final status, whatever it is. */
  readonly status: Promise<grpc.StatusObject>;
  private readonly events: AsyncIterator<StreamResponse>;

  constructor(readonly call: grpc.ClientReadableStream<StreamResponse>) {
    this.status = new Promise((resolve) => call.once('status', resolve));
    this.events = call[Symbol.asyncIterator]() as AsyncIterator<StreamResponse>;
  }

  async next(): Promise<StreamResponse | undefined> {
    const step = await this.events.next();
    return step.done ? undefined : step.value;
  }

  /** Every remaining event until the server ends the stream. */
  async rest(): Promise<StreamResponse[]> {
    const out: StreamResponse[] = [];
    for (let e = await this.next(); e; e = await this.next()) out.push(e);
    return out;
  }

  /** Reads to the end; resolves with the events before the failure and the error it failed with. */
  async failure(): Promise<{ events: StreamResponse[]; error: grpc.ServiceError }> {
    const events: StreamResponse[] = [];
    try {
      for (let e = await this.next(); e; e = await this.next()) events.push(e);
    } catch (error) {
      if (isServiceError(error)) return { events, error };
      throw error;
    }
    throw new Error(`expected the stream to fail, but it ended OK after ${events.length} events`);
  }

  /** Cancels the call from the client side, like a caller that goes away. */
  cancel(): void {
    this.call.cancel();
  }
}

export function isServiceError(error: unknown): error is grpc.ServiceError {
  return error instanceof Error && typeof (error as Partial<grpc.ServiceError>).code === 'number';
}

/** What a gRPC A2A error must carry (A2A §10.6). */
export interface GrpcErrorExpectation {
  /** gRPC status code. */
  readonly code: grpc.status;
  /** `google.rpc.ErrorInfo.reason`. */
  readonly reason: string;
  /** `ErrorInfo.metadata.field`; the message must name it too. */
  readonly field?: string;
  /** Substrings the status message must contain. */
  readonly messageIncludes?: readonly string[];
  /** Entries `ErrorInfo.metadata` must contain. */
  readonly metadata?: Record<string, string>;
}

/**
 * Asserts a gRPC error: the status code, a readable message, and a `google.rpc.Status`
 * in `grpc-status-details-bin` with the same code and message and one ErrorInfo
 * (domain `a2a-protocol.org`, the catalogue reason).
 */
export function expectGrpcError(error: grpc.ServiceError, exp: GrpcErrorExpectation): void {
  const context = `${grpc.status[error.code]} ${error.details}`;
  expect(grpc.status[error.code], context).toBe(grpc.status[exp.code]);
  expect(error.details, context).toBeTypeOf('string');
  expect(error.details.length, context).toBeGreaterThan(0);
  const bins = error.metadata.get(GRPC_STATUS_DETAILS_BIN);
  expect(bins, `${context}: ${GRPC_STATUS_DETAILS_BIN}`).toHaveLength(1);
  const status = decodeStatus(Buffer.from(bins[0] as Buffer));
  expect(status.code, context).toBe(exp.code);
  expect(status.message, context).toBe(error.details);
  const infos = status.details.filter((d) => d.typeUrl === ERROR_INFO_TYPE);
  expect(infos, context).toHaveLength(1);
  const info = decodeErrorInfo((infos[0] as { value: Buffer }).value);
  expect(info, context).toMatchObject({ domain: A2A_DOMAIN, reason: exp.reason });
  if (exp.field !== undefined) {
    expect(info.metadata.field, context).toBe(exp.field);
    expect(error.details, context).toContain(exp.field);
  }
  if (exp.metadata) expect(info.metadata, context).toMatchObject(exp.metadata);
  for (const s of exp.messageIncludes ?? []) expect(error.details, context).toContain(s);
}

/**
 * Resolves with the first value of `probe` that satisfies `accept`, calling it again (on
 * the next turn of the event loop) until then; for state that settles through RPCs.
 */
export async function eventuallyAsync<T>(
  probe: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 5000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** One field of an encoded protobuf message: its number, and its bytes when length-delimited. */
export interface WireField {
  readonly no: number;
  readonly bytes?: Uint8Array;
}

/** The fields present in an encoded protobuf message, in wire order (a repeated field once per value). */
export function wireFields(bytes: Uint8Array): WireField[] {
  const reader = new BinaryReader(bytes);
  const fields: WireField[] = [];
  while (reader.pos < reader.len) {
    const [no, type] = reader.tag();
    if (type === WireType.LengthDelimited) fields.push({ no, bytes: reader.bytes() });
    else {
      reader.skip(type, no);
      fields.push({ no });
    }
  }
  return fields;
}

function metadataOf(options: CallOptions): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(options.metadata ?? {})) metadata.set(k, v);
  return metadata;
}

function callOptionsOf(options: CallOptions): grpc.CallOptions {
  return options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs };
}
