/**
 * gRPC requests no client library would send: bytes that are not a protobuf message, and
 * task ids of 100,000 characters. Both are INVALID_ARGUMENT with ErrorInfo; the error's
 * trailers stay small (echoed values are capped), and the channel goes on working.
 */
import * as grpc from '@grpc/grpc-js';
import { A2AService } from '@a2a-js/sdk/server/grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawGrpcClient, expectGrpcError, isServiceError } from '../../helpers/grpc.js';
import { messageRequest } from '../../helpers/interop.js';
import { startServer, type TestServer } from '../../helpers/server.js';
import { expectRestError, expectRpcError, rest, rpc } from '../../helpers/wire.js';

let t: TestServer;
let raw: RawGrpcClient;
beforeAll(async () => {
  t = await startServer();
  raw = new RawGrpcClient(t.server.grpcAddress as string);
});
afterAll(async () => {
  raw.close();
  await t.close();
});

/** Sends `bytes` as the request of `path` through an identity serializer; resolves with the error. */
function sendBytes(path: string, bytes: Buffer, streaming = false): Promise<grpc.ServiceError> {
  return new Promise((resolve, reject) => {
    const identity = (b: Buffer): Buffer => b;
    const done = (error: unknown): void => (isServiceError(error) ? resolve(error) : reject(error));
    if (streaming) {
      const call = raw.client.makeServerStreamRequest(path, identity, identity, bytes);
      call.on('data', () => reject(new Error('expected no event')));
      call.on('error', done);
      call.on('end', () => reject(new Error('expected the stream to fail')));
    } else {
      raw.client.makeUnaryRequest(path, identity, identity, bytes, (error) =>
        error ? done(error) : reject(new Error('expected the call to fail')),
      );
    }
  });
}

/** Bytes of every trailer of an error (what the caller's connection had to carry). */
function trailerBytes(error: grpc.ServiceError): number {
  let n = 0;
  for (const [key, values] of Object.entries(error.metadata.toJSON()))
    for (const v of values) n += key.length + (Buffer.isBuffer(v) ? v.length : Buffer.byteLength(String(v)));
  return n + Buffer.byteLength(error.details);
}

async function expectServing(): Promise<void> {
  const res = await raw.unary('sendMessage', { ...messageRequest('still serving'), tenant: 'echo' });
  expect(res.payload?.$case).toBe('task');
}

describe('bytes that are not protobuf → INVALID_ARGUMENT with ErrorInfo', () => {
  const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x0a, 0x05, 0x01]);
  for (const name of ['getTask', 'sendMessage', 'listTasks'] as const) {
    it(`${name}`, async () => {
      expectGrpcError(await sendBytes(A2AService[name].path, garbage), {
        code: grpc.status.INVALID_ARGUMENT,
        reason: 'PARSE_ERROR',
      });
    });
  }
  it('sendStreamingMessage, before any event', async () => {
    expectGrpcError(await sendBytes(A2AService.sendStreamingMessage.path, garbage, true), {
      code: grpc.status.INVALID_ARGUMENT,
      reason: 'PARSE_ERROR',
    });
    await expectServing();
  });
});

describe('a 100,000-character task id', () => {
  const huge = 'x'.repeat(100_000);

  it('gRPC GetTask → INVALID_ARGUMENT naming the field, trailers < 8 KB; the channel still works', async () => {
    const error = await raw.unaryError('getTask', { tenant: 'echo', id: huge, historyLength: undefined });
    expectGrpcError(error, { code: grpc.status.INVALID_ARGUMENT, reason: 'INVALID_PARAMS', field: 'id' });
    expect(trailerBytes(error)).toBeLessThan(8 * 1024);
    await expectServing();
  });

  it('gRPC CancelTask and SubscribeToTask the same way', async () => {
    const cancel = await raw.unaryError('cancelTask', { tenant: 'echo', id: huge, metadata: undefined });
    expectGrpcError(cancel, { code: grpc.status.INVALID_ARGUMENT, reason: 'INVALID_PARAMS', field: 'id' });
    expect(trailerBytes(cancel)).toBeLessThan(8 * 1024);
    const { error } = await raw.stream('subscribeToTask', { tenant: 'echo', id: huge }).failure();
    expectGrpcError(error, { code: grpc.status.INVALID_ARGUMENT, reason: 'INVALID_PARAMS', field: 'id' });
    expect(trailerBytes(error)).toBeLessThan(8 * 1024);
    await expectServing();
  });

  it('JSON-RPC and HTTP+JSON → INVALID_PARAMS, small bodies', async () => {
    const a = await rpc(t.url, 'echo', 'GetTask', { id: huge });
    expectRpcError(a, { code: -32602, reason: 'INVALID_PARAMS', field: 'id' });
    expect(a.text.length).toBeLessThan(2048);
    const b = await rest(t.url, 'echo', 'GET', `/tasks/${'y'.repeat(5000)}`);
    expectRestError(b, { http: 400, status: 'INVALID_ARGUMENT', reason: 'INVALID_PARAMS', field: 'id' });
    expect(b.text.length).toBeLessThan(2048);
  });

  it('an id under the limit that does not exist: NOT_FOUND, echoing at most 128 characters of it', async () => {
    const long = 'z'.repeat(1000);
    const error = await raw.unaryError('getTask', { tenant: 'echo', id: long, historyLength: undefined });
    expectGrpcError(error, { code: grpc.status.NOT_FOUND, reason: 'TASK_NOT_FOUND' });
    expect(error.details).toContain(`${'z'.repeat(128)}…`);
    expect(error.details).not.toContain('z'.repeat(129));
    const res = await rpc(t.url, 'echo', 'GetTask', { id: long });
    expectRpcError(res, { code: -32001, reason: 'TASK_NOT_FOUND' });
    expect(res.text).not.toContain('z'.repeat(129));
    expect(res.json.error.data[0].metadata.taskId).toBe(`${'z'.repeat(128)}…`);
  });
});
