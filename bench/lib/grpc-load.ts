/**
 * The grpc-js side of the gRPC benchmark, written once for both gRPC servers: a
 * `@grpc/grpc-js` client built from the SDK's `A2AService` definition
 * (`lf.a2a.v1.A2AService`), so both servers see identical bytes. It checks
 * unary answers around each h2load run (bench/lib/grpc-h2load.ts, the unary
 * load generator) and drives the streaming measure ({@link grpcStreamOnce}:
 * one SendStreamingMessage, every event timed).
 */
import * as grpc from '@grpc/grpc-js';
import type { SendMessageRequest, SendMessageResponse, StreamResponse } from '@a2a-js/sdk';
import { A2AService } from '@a2a-js/sdk/server/grpc';
import type { StreamCapture } from './streaming.js';
const CONNECT_TIMEOUT_MS = 10_000;
const CALL_TIMEOUT_MS = 30_000;

/** The generic `A2AService` client, typed for the methods this module calls. */
export interface A2AStub extends grpc.Client {
  sendMessage(
    request: SendMessageRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: (error: grpc.ServiceError | null, response?: SendMessageResponse) => void,
  ): grpc.ClientUnaryCall;
  sendStreamingMessage(
    request: SendMessageRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
  ): grpc.ClientReadableStream<StreamResponse>;
}

const A2AClient = grpc.makeGenericClientConstructor(A2AService, 'A2AService');

function metadata(): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('a2a-version', '1.0');
  return md;
}

function deadline(ms: number): Date {
  return new Date(Date.now() + ms);
}

/**
 * Opens a client on its own HTTP/2 connection (a local subchannel pool: grpc-js
 * would otherwise share one connection between all clients of a target) and
 * waits until it is connected.
 */
export async function connectGrpc(address: string): Promise<A2AStub> {
  const client = new A2AClient(address, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
  }) as unknown as A2AStub;
  try {
    await new Promise<void>((resolve, reject) =>
      client.waitForReady(deadline(CONNECT_TIMEOUT_MS), (error) => (error ? reject(error) : resolve())),
    );
  } catch (error) {
    client.close();
    throw new Error(`cannot connect to gRPC ${address}: ${(error as Error).message}`);
  }
  return client;
}

/** One SendMessage call; rejects on a gRPC error. */
export function grpcSend(client: A2AStub, request: SendMessageRequest): Promise<SendMessageResponse> {
  return new Promise((resolve, reject) => {
    client.sendMessage(request, metadata(), { deadline: deadline(CALL_TIMEOUT_MS) }, (error, response) => {
      if (error) reject(new Error(`gRPC SendMessage failed: ${error.code} ${error.details}`));
      else if (!response) reject(new Error('gRPC SendMessage returned no response'));
      else resolve(response);
    });
  });
}

/**
 * One SendStreamingMessage on `client`, timing every event. Rejects if the
 * call ends with a gRPC error or delivers no event.
 */
export function grpcStreamOnce(client: A2AStub, request: SendMessageRequest): Promise<StreamCapture> {
  return new Promise((resolve, reject) => {
    const events: StreamResponse[] = [];
    let first = 0n;
    let last = 0n;
    const start = process.hrtime.bigint();
    const call = client.sendStreamingMessage(request, metadata(), { deadline: deadline(CALL_TIMEOUT_MS) });
    call.on('data', (event: StreamResponse) => {
      last = process.hrtime.bigint();
      if (events.length === 0) first = last;
      events.push(event);
    });
    call.on('error', (error: grpc.ServiceError) =>
      reject(new Error(`gRPC SendStreamingMessage failed: ${error.code} ${error.details}`)),
    );
    call.on('end', () => {
      if (events.length === 0) reject(new Error('gRPC SendStreamingMessage delivered no event'));
      else resolve({ start, first, last, events });
    });
  });
}
