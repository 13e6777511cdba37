/**
 * The gRPC load generator, written once for every gRPC server under test: a
 * `@grpc/grpc-js` client built from the SDK's `A2AService` definition
 * (`lf.a2a.v1.A2AService`), so both servers see identical bytes.
 *
 * - {@link runGrpcUnary}: closed loop, K SendMessage calls in flight for D
 *   seconds over ceil(K / {@link IN_FLIGHT_PER_CHANNEL}) channels (one HTTP/2
 *   connection each), per-call latency from `process.hrtime` -> req/s, p50,
 *   p99. Every answer is checked; the first wrong answer or error aborts.
 * - {@link grpcStreamOnce}: one SendStreamingMessage, every event timed.
 */
import * as grpc from '@grpc/grpc-js';
import type { SendMessageRequest, SendMessageResponse, StreamResponse } from '@a2a-js/sdk';
import { A2AService } from '@a2a-js/sdk/server/grpc';
import { percentile } from './stats.js';
import type { StreamCapture } from './streaming.js';
import type { WrkLatencyMs } from './wrk.js';

/** In-flight calls per channel: K in flight use ceil(K / 8) connections. */
export const IN_FLIGHT_PER_CHANNEL = 8;
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

/** Outcome of one {@link runGrpcUnary} run. */
export interface GrpcUnaryResult {
  inFlight: number;
  channels: number;
  durationSeconds: number;
  requests: number;
  requestsPerSecond: number;
  latencyMs: WrkLatencyMs;
}

/** Options for {@link runGrpcUnary}. */
export interface GrpcUnaryOptions {
  /** `host:port` of the server. */
  address: string;
  /** Sent as is (set `tenant` to address an agent). */
  request: SendMessageRequest;
  inFlight: number;
  durationSeconds: number;
  /** Returns why an answer is wrong, if it is. */
  check: (response: SendMessageResponse) => string | undefined;
}

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
 * Keeps `inFlight` SendMessage calls outstanding for `durationSeconds`: each
 * of `inFlight` workers sends its next call when the previous one answers,
 * spread over ceil(inFlight / {@link IN_FLIGHT_PER_CHANNEL}) channels. Rejects
 * on the first gRPC error or answer that fails `check`.
 */
export async function runGrpcUnary(opts: GrpcUnaryOptions): Promise<GrpcUnaryResult> {
  const channels = Math.ceil(opts.inFlight / IN_FLIGHT_PER_CHANNEL);
  const clients = await Promise.all(Array.from({ length: channels }, () => connectGrpc(opts.address)));
  const latencies: number[] = [];
  let failure: Error | undefined;
  try {
    const start = process.hrtime.bigint();
    const end = start + BigInt(opts.durationSeconds) * 1_000_000_000n;
    const worker = async (client: A2AStub): Promise<void> => {
      while (failure === undefined) {
        const sent = process.hrtime.bigint();
        if (sent >= end) return;
        let response: SendMessageResponse;
        try {
          response = await grpcSend(client, opts.request);
        } catch (error) {
          failure ??= error as Error;
          return;
        }
        latencies.push(Number(process.hrtime.bigint() - sent) / 1e6);
        const problem = opts.check(response);
        if (problem) failure ??= new Error(`wrong SendMessage answer from ${opts.address}: ${problem}`);
      }
    };
    await Promise.all(
      Array.from({ length: opts.inFlight }, (_, i) => worker(clients[i % channels] as A2AStub)),
    );
    const elapsedSeconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (failure) throw failure;
    if (latencies.length === 0) throw new Error(`no SendMessage call to ${opts.address} completed`);
    const sorted = Float64Array.from(latencies).sort();
    return {
      inFlight: opts.inFlight,
      channels,
      durationSeconds: opts.durationSeconds,
      requests: latencies.length,
      requestsPerSecond: latencies.length / elapsedSeconds,
      latencyMs: {
        p50: percentile(sorted, 50),
        p75: percentile(sorted, 75),
        p90: percentile(sorted, 90),
        p99: percentile(sorted, 99),
      },
    };
  } finally {
    for (const client of clients) client.close();
  }
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
